"""Do ticket-file uploads stall the server's event loop? (issue 14)

`GET /api/health` p99 while ten 5 MB uploads (`PUT /api/tickets/{id}/file`) run at once, vs.
idle, on one real server process (granian, one worker). The upload is read in the loop chunk
by chunk; the checks (type, structure, sha256) and the database write run in the threadpool;
at most TICKETING_UPLOAD_CONCURRENCY uploads (default 1) are read and stored at once, the
others wait unread. Target: loaded p99 <= 3x idle p99. The uploads completed per second
during the loaded rounds are printed too (the bound trades some of them for the loop).

Beside `/api/health` (a thread hop and `SELECT 1`), each probe round also times a request the
event loop answers alone (an unknown `/api/…` path: the JSON 404, no thread, no database), so a
slow health check can be told apart from a stalled loop; and the machine's load average is
printed at the start and the end (the figures mean little on a saturated machine).

    .venv/bin/python bench/bench_upload_health.py [--rounds 3] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import common  # noqa: F401  (sys.path, cheap argon2)
import httpx

from tests.db_helpers import migrate
from tests.delivery.sample_files import oversized_pdf
from tests.support import spawn_server
from ticketing_app.services.files import MAX_FILE_BYTES

UPLOADERS = 10
PROBES = 200


LOOP_ONLY = "/api/no-such-route"  # answered on the loop: the JSON 404


async def probe(client: httpx.AsyncClient, n: int) -> list[float]:
    """`n` health checks; also records the loop-only request between them (in `loop_times`)."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = await client.get("/api/health")
        times.append(time.perf_counter() - start)
        assert r.status_code == 200, r.text
        start = time.perf_counter()
        r = await client.get(LOOP_ONLY)
        loop_times.append(time.perf_counter() - start)
        assert r.status_code == 404, r.text
        await asyncio.sleep(0.005)
    return times


loop_times: list[float] = []


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98]


BOUNDARY = "bench-upload-boundary-7f3c"


def multipart_body(data: bytes) -> bytes:
    """The request body a browser sends for one file field, encoded once: the load generator
    should spend its CPU sending, not re-encoding 5 MB per upload (httpx's `files=` did, and on
    two cores that starved the server and the probes it is measuring)."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="t.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_process(base: str, cookies: dict, tickets: list[str], stop_at, sent) -> None:
    """Ten uploaders at once, in their own process (so the probe's client loop is not theirs)."""

    async def uploader(ticket_id: str, body: bytes) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120, cookies=cookies) as client:
            while not stop_at.is_set():
                r = await client.put(
                    f"/api/tickets/{ticket_id}/file",
                    content=body,
                    headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
                )
                assert r.status_code == 200, r.text
                with sent.get_lock():
                    sent.value += 1

    async def all_of_them() -> None:
        body = multipart_body(oversized_pdf(MAX_FILE_BYTES - 1))  # a valid 5 MB PDF
        await asyncio.gather(*(uploader(t, body) for t in tickets))

    asyncio.run(all_of_them())


async def run(base: str, rounds: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as seller:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        r = await seller.post("/api/users/signup", json={"email": email, "password": "x" * 12})
        assert r.status_code == 201, r.text
        tickets = []
        for i in range(UPLOADERS):
            r = await seller.post("/api/tickets", json={"title": f"Bench {i}", "price": 10})
            tickets.append(r.json()["id"])
        async with httpx.AsyncClient(base_url=base, timeout=30) as health:
            await probe(health, 20)  # warm up
            idle, loaded, uploads, loaded_seconds = [], [], 0, 0.0
            loop_idle, loop_loaded = [], []
            for _ in range(rounds):
                loop_times.clear()
                idle.append(p99(await probe(health, PROBES)))
                loop_idle.append(p99(loop_times))
                loop_times.clear()
                stop_at, sent = multiprocessing.Event(), multiprocessing.Value("i", 0)
                cookies = dict(seller.cookies)
                proc = multiprocessing.Process(
                    target=upload_process, args=(base, cookies, tickets, stop_at, sent)
                )
                proc.start()
                while sent.value < UPLOADERS:  # every uploader has finished one: all under way
                    await asyncio.sleep(0.05)
                started, before = time.perf_counter(), sent.value
                loaded.append(p99(await probe(health, PROBES)))
                loop_loaded.append(p99(loop_times))
                uploads += sent.value - before
                loaded_seconds += time.perf_counter() - started
                stop_at.set()
                proc.join()
    best_idle, best_loaded = min(idle), min(loaded)
    concurrency = os.environ.get("TICKETING_UPLOAD_CONCURRENCY", "1 (default)")
    print(f"upload slots per worker (TICKETING_UPLOAD_CONCURRENCY): {concurrency}")
    print(
        f"uploads completed while the loaded probes ran: {uploads}"
        f" ({uploads / loaded_seconds:.1f}/s)"
    )
    for name, best, all_rounds in (("idle", best_idle, idle), ("loaded", best_loaded, loaded)):
        rounded = [round(x * 1000, 1) for x in all_rounds]
        print(f"health p99 {name}: {best * 1000:.1f} ms (rounds: {rounded})")
    print(f"ratio: {best_loaded / best_idle:.2f} (target <= 3)")
    print(
        f"loop-only p99 idle {min(loop_idle) * 1000:.1f} ms, loaded {min(loop_loaded) * 1000:.1f}"
        f" ms: ratio {min(loop_loaded) / min(loop_idle):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    if args.postgres:
        db_url = common.fresh_postgres(name="ticketing_bench_upload")
    else:
        db_url = f"sqlite:///{directory / 'bench.db'}"
        migrate(db_url)
    print(f"load average at start: {load_average()}")
    server = spawn_server("api", {"DATABASE_URL": db_url}, log_path=directory / "server.log")
    try:
        asyncio.run(run(server.base_url, args.rounds))
    finally:
        server.remove()
    print(f"load average at end: {load_average()}")
    sys.exit(0)


if __name__ == "__main__":
    main()
