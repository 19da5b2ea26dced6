"""Connected clients: N simulated browsers (python-socketio clients speaking Reflex's event
protocol on /_event) held open against one prod-mode backend worker; backend memory per client
and the round-trip of a state event (hydrate) under that load, relative to one idle client.

    .venv/bin/python bench/bench_clients.py [--clients 500] [--samples 200]

Backend: `reflex run --env prod --backend-only` (one worker, SQLite, in-memory state manager),
started in a throwaway directory (tests/load/load_helpers.Backend). Each client connects with
its own token and sends the frontend's boot event (`reflex___state____state.hydrate`), so every
one has a live state on the server. Memory: RSS of the backend process tree before and after
connecting. Round trip: emit a hydrate event, wait for the `event` update, on one extra client,
first with no other client connected, then with all N connected and each of them sending a
hydrate event every ~5 s on average (--every; 0 keeps them idle), i.e. ~100 events/s for 500.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys  # noqa: E402
import tempfile
import time
import uuid
from pathlib import Path

import socketio
from common import ROOT, fresh_sqlite, header, percentile

sys.path.insert(0, str(ROOT / "tests" / "load"))
from load_helpers import Backend  # noqa: E402

HYDRATE = "reflex___state____state.hydrate"
NAMESPACE = "/_event"  # Reflex's Socket.IO namespace (also its path)


def tree_rss_kib(pid: int) -> int:
    """RSS of a process and all its descendants (reflex spawns the server as a child)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = str(uuid.uuid4())
        self.sio = socketio.AsyncClient(reconnection=False)
        self.updates: asyncio.Queue[object] = asyncio.Queue()
        self.sio.on("event", self._on_update, namespace=NAMESPACE)

    async def _on_update(self, data: object) -> None:
        await self.updates.put(data)

    async def connect(self) -> None:
        await self.sio.connect(
            f"{self.base}?token={self.token}",
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=[NAMESPACE],
        )

    async def round_trip(self) -> float:
        while not self.updates.empty():
            self.updates.get_nowait()
        t0 = time.perf_counter()
        await self.sio.emit(
            "event",
            {"token": self.token, "name": HYDRATE, "payload": {},
             "router_data": {"pathname": "/", "query": {}}},
            namespace=NAMESPACE,
        )  # fmt: skip
        await asyncio.wait_for(self.updates.get(), 30)
        return time.perf_counter() - t0


async def run(base: str, pid: int, n: int, samples: int, every: float) -> None:
    probe = Browser(base)
    await probe.connect()
    await probe.round_trip()
    idle = [await probe.round_trip() for _ in range(samples)]
    before = tree_rss_kib(pid)
    crowd = [Browser(base) for _ in range(n)]
    for i in range(0, n, 50):
        await asyncio.gather(*(b.connect() for b in crowd[i : i + 50]))
        await asyncio.gather(*(b.round_trip() for b in crowd[i : i + 50]))
    await asyncio.sleep(2)
    after = tree_rss_kib(pid)
    stop = asyncio.Event()

    async def chatter(b: Browser) -> None:  # every client sends an event every ~`every` s
        rng = random.Random(b.token)
        while not stop.is_set():
            await asyncio.sleep(rng.uniform(0, 2 * every))
            await b.round_trip()

    chat = [asyncio.create_task(chatter(b)) for b in crowd] if every > 0 else []
    loaded = [await probe.round_trip() for _ in range(samples)]
    stop.set()
    await asyncio.gather(*chat, return_exceptions=True)
    print(f"  backend RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB with {n} clients: "
          f"{(after - before) / n:.0f} KiB per client")  # fmt: skip
    load = f"{n} clients" + (f", each 1 event/{every:g}s" if every > 0 else ", idle")
    for name, lat in (("1 client", idle), (load, loaded)):
        print(f"  hydrate round trip, {name:30s}: p50 {percentile(lat, 50) * 1000:6.1f} ms  "
              f"p99 {percentile(lat, 99) * 1000:6.1f} ms")  # fmt: skip
    ratio50 = percentile(loaded, 50) / percentile(idle, 50)
    ratio99 = percentile(loaded, 99) / percentile(idle, 99)
    print(f"  ratio loaded/idle: p50 {ratio50:.2f}, p99 {ratio99:.2f}")
    await asyncio.gather(*(b.sio.disconnect() for b in [probe, *crowd]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--every", type=float, default=5.0, help="each client sends an event every ~N s (0: idle)"
    )
    args = parser.parse_args()
    header(f"Connected clients: {args.clients} Socket.IO clients on one backend worker")
    db_url = fresh_sqlite()
    log = Path(tempfile.mkdtemp(prefix="bench-clients-")) / "backend.log"
    backend = Backend(log, {"DATABASE_URL": db_url})
    try:
        backend.start()
        assert backend.proc is not None
        asyncio.run(run(backend.url, backend.proc.pid, args.clients, args.samples, args.every))
    finally:
        backend.remove()


if __name__ == "__main__":
    main()
