"""Browsing at the framework's speed (issue 19): the public read paths of the API as a ratio to
a bare FastAPI async endpoint (`{"ok": true}`, bench/bare_api.py) served by the same kind of
granian worker (one worker, no access log), measured in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_browse.py [--seconds 3] [--rounds 2] [--connections 50]
        [--database sqlite|pg|both]

Data: the demo market (`python -m ticketing_app.demo`: a dozen events, their tickets and a few
without an event) in a fresh database. Load: a closed loop of N keep-alive HTTP/1.1
connections (plain asyncio streams in a separate process: `wrk -t1 -c50` where wrk is not
installed), each sending its next request as soon as the last response is read. Every row and
the baseline are measured alternately, `--rounds` times each; the best round of each counts.
Targets (the issue's): first page of /api/tickets and of an event's tickets, a ticket by id
and the health check each >= 0.5x the bare endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (sys.path, cheap argon2)
import httpx
from common import ROOT, drop_sqlite, fresh_postgres, fresh_sqlite, header

from tests.support import spawn_server
from tests.support.servers import VENV_BIN, Server, child_env, free_port, http_ready

TARGET = 0.5
TARGETED = {"tickets first page", "event tickets", "ticket by id", "health"}


# --- the load generator (runs in its own process: `bench_browse.py --load URL PATH ...`) ---
async def _connection(host: str, port: int, request: bytes, stop_at: float, counts: list[int]):
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        while time.perf_counter() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if head[9:12] not in (b"200", b"304"):
                raise RuntimeError(head.decode(errors="replace"))
            done += 1
    finally:
        counts.append(done)
        writer.close()


async def _load(url: str, path: str, connections: int, seconds: float, etag: str) -> float:
    parsed = httpx.URL(url)
    extra = f"If-None-Match: {etag}\r\n" if etag else ""
    request = (f"GET {path} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n{extra}\r\n").encode()
    counts: list[int] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(
            _connection(parsed.host, parsed.port, request, stop_at, counts)
            for _ in range(connections)
        )
    )
    return sum(counts) / (time.perf_counter() - started)


def measure(url: str, path: str, connections: int, seconds: float, etag: str = "") -> float:
    """Requests per second over `seconds` (after a short warm-up), in a child process."""
    argv = [sys.executable, __file__, "--load", url, path, str(connections), str(seconds), etag]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


# --- the servers ---
def bare_server() -> Server:
    port = free_port()
    env = child_env({"PYTHONPATH": str(ROOT / "bench")})
    argv = [
        str(VENV_BIN / "granian"),
        "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "bare_api:build",
    ]  # fmt: skip
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="ticketing-bare-"))
    server = Server(
        "bare", argv, port=port, url=f"http://127.0.0.1:{port}", ready=http_ready("/ok"),
        env=env, workdir=workdir,
    )  # fmt: skip
    server.start()
    return server


def seed_demo(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "ticketing_app.demo"], cwd=ROOT, env=env, check=True,
        capture_output=True,
    )  # fmt: skip


def rows_for(base: str) -> dict[str, str]:
    """The routes measured, with ids from the seeded data."""
    with httpx.Client(base_url=base) as client:
        ticket = client.get("/api/tickets", params={"limit": 1}).json()[0]["id"]
        event = client.get("/api/events", params={"limit": 1}).json()[0]["id"]
    return {
        "currentuser (no cookie)": "/api/users/currentuser",
        "health": "/api/health",
        "ticket by id": f"/api/tickets/{ticket}",
        "tickets first page": "/api/tickets?limit=12",
        "events first page": "/api/events?limit=6",
        "event by id": f"/api/events/{event}",
        "event tickets": f"/api/events/{event}/tickets",
    }


def run(database: str, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    url = fresh_sqlite() if database == "sqlite" else fresh_postgres(name="ticketing_bench_browse")
    seed_demo(url)
    api = spawn_server("api", {"DATABASE_URL": url})
    bare = bare_server()
    results = []
    try:
        rows = rows_for(api.base_url)
        for url_, path in ((api.base_url, p) for p in rows.values()):  # warm both up
            measure(url_, path, 4, 0.3)
        measure(bare.base_url, "/ok", 4, 0.3)
        for name, path in rows.items():
            ours, baseline = [], []
            for _ in range(args.rounds):
                baseline.append(measure(bare.base_url, "/ok", args.connections, args.seconds))
                ours.append(measure(api.base_url, path, args.connections, args.seconds))
            results.append((name, max(ours), max(baseline)))
        etag = httpx.get(api.base_url + rows["tickets first page"]).headers.get("etag", "")
        if etag:
            ours, baseline = [], []
            for _ in range(args.rounds):
                baseline.append(measure(bare.base_url, "/ok", args.connections, args.seconds))
                ours.append(
                    measure(api.base_url, rows["tickets first page"], args.connections,
                            args.seconds, etag)
                )  # fmt: skip
            results.append(("tickets first page, 304", max(ours), max(baseline)))
    finally:
        api.remove()
        bare.remove()
        if database == "sqlite":
            drop_sqlite(url)
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        url, path, connections, seconds, *rest = sys.argv[2:]
        etag = rest[0] if rest else ""
        print(asyncio.run(_load(url, path, int(connections), float(seconds), etag)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database", choices=("sqlite", "pg", "both"), default="both")
    args = parser.parse_args()
    header("Public read paths vs a bare FastAPI async endpoint (granian, 1 worker)")
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    failed = []
    for database in ("sqlite", "pg") if args.database == "both" else (args.database,):
        print(f"\n## {database}: {args.connections} connections, best of {args.rounds} x "
              f"{args.seconds:g} s")  # fmt: skip
        print(f"{'endpoint':<28} {'req/s':>8} {'bare req/s':>11} {'ratio':>6}")
        for name, ours, baseline in run(database, args):
            ratio = ours / baseline
            mark = ""
            if name in TARGETED:
                ok = ratio >= TARGET
                mark = "  ok" if ok else f"  BELOW {TARGET}"
                if not ok:
                    failed.append(f"{database} {name}")
            print(f"{name:<28} {ours:>8,.0f} {baseline:>11,.0f} {ratio:>6.2f}{mark}")
    print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    if failed:
        print("below target: " + ", ".join(failed))


if __name__ == "__main__":
    main()
