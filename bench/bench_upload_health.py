"""Do ticket-file uploads stall the server's event loop? (issue 14)

`GET /api/health` p99 while ten 5 MB uploads (`PUT /api/tickets/{id}/file`) run at once, vs.
idle, on one real server process (granian, one worker). The upload is read in the loop chunk
by chunk; the checks (type, structure, sha256) and the database write run in the threadpool,
so health checks should keep answering. Target: loaded p99 <= 3x idle p99.

    .venv/bin/python bench/bench_upload_health.py [--rounds 3] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import common  # noqa: F401  (sys.path, cheap argon2)
import httpx

from tests.api.api_helpers import start_api_server, stop
from tests.db_helpers import migrate
from tests.delivery.sample_files import oversized_pdf
from ticketing_app.services.files import MAX_FILE_BYTES

UPLOADERS = 10
PROBES = 200


async def probe(client: httpx.AsyncClient, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = await client.get("/api/health")
        times.append(time.perf_counter() - start)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.005)
    return times


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98]


def upload_process(base: str, cookies: dict, tickets: list[str], stop_at, sent) -> None:
    """Ten uploaders at once, in their own process (so the probe's client loop is not theirs)."""

    async def uploader(ticket_id: str, data: bytes) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120, cookies=cookies) as client:
            while not stop_at.is_set():
                r = await client.put(
                    f"/api/tickets/{ticket_id}/file",
                    files={"file": ("t.pdf", data, "application/pdf")},
                )
                assert r.status_code == 200, r.text
                with sent.get_lock():
                    sent.value += 1

    async def all_of_them() -> None:
        data = oversized_pdf(MAX_FILE_BYTES - 1)  # a valid PDF of exactly 5 MB
        await asyncio.gather(*(uploader(t, data) for t in tickets))

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
            idle, loaded, uploads = [], [], 0
            for _ in range(rounds):
                idle.append(p99(await probe(health, PROBES)))
                stop_at, sent = multiprocessing.Event(), multiprocessing.Value("i", 0)
                cookies = dict(seller.cookies)
                proc = multiprocessing.Process(
                    target=upload_process, args=(base, cookies, tickets, stop_at, sent)
                )
                proc.start()
                while sent.value < UPLOADERS:  # every uploader has finished one: all under way
                    await asyncio.sleep(0.05)
                loaded.append(p99(await probe(health, PROBES)))
                stop_at.set()
                proc.join()
                uploads += sent.value
    best_idle, best_loaded = min(idle), min(loaded)
    print(f"uploads completed during the loaded rounds: {uploads}")
    for name, best, all_rounds in (("idle", best_idle, idle), ("loaded", best_loaded, loaded)):
        rounded = [round(x * 1000, 1) for x in all_rounds]
        print(f"health p99 {name}: {best * 1000:.1f} ms (rounds: {rounded})")
    print(f"ratio: {best_loaded / best_idle:.2f} (target <= 3)")


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
    server = start_api_server(db_url, directory / "server.log")
    try:
        asyncio.run(run(server.base_url, args.rounds))
    finally:
        stop(server.proc)
    sys.exit(0)


if __name__ == "__main__":
    main()
