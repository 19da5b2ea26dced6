"""Connected clients: N simulated browsers (python-socketio clients speaking Reflex's event
protocol on /_event) on the marketplace page of one prod-mode backend worker: backend memory
per client; the round trip of a state event (hydrate) and of a page load (a navigation to the
market page) under that load, relative to one idle client; and a live push fanned out to N
watchers, relative to one watcher.

    .venv/bin/python bench/bench_clients.py [--clients 500] [--samples 200] [--pushes 5]

Backend: `reflex run --env prod --backend-only` (one worker, SQLite with 1,000 tickets for
sale, in-memory state manager), started in a throwaway directory (tests.support.spawn_server).
Each client opens its socket the way the frontend does: its own token, the boot event
(`hydrate_and_load` for `/`; on a page's first connect with the compiled initialState's hashes,
`--full-snapshot` leaves them out as a reconnect does) in the Socket.IO CONNECT packet, so the
backend runs the page's load (state/market.LoadInTheEvent: the navbar's cookie check, the
events and the first page of tickets; it registers the client as a live watcher of the
market) and sends the state with the rows in it.

- Against a blank Reflex app (bench/blank_app: one page, no state, started the same way, with
  the same Reflex configuration and process tuning: the memory manager, the GC threshold), N
  clients connect to each in turn (--rounds times): backend memory per client and connect ->
  hydrated p50 (boot event sent until `is_hydrated`, i.e. the first rows on screen), and the
  two ratios market/blank (targets <= 1.5). Each round connects to one app right after the
  other; the connect ratio is the median of the rounds' ratios (--rounds 5), as single rounds
  on this shared machine spread by +-20 %. `--blank-only` stops after that.
- Memory: RSS of the backend process tree before and after connecting the N clients.
- Round trips, on one extra probe client, first alone, then with the N connected and each of
  them sending a hydrate event every ~5 s on average (--every; 0 keeps them idle):
  hydrate (emit -> the update) and page load (`on_load_internal` for `/`, what the browser sends
  on a client-side navigation -> the update with `is_hydrated` true, after the page's load ran
  its reads).
- Live fan-out: a seller lists a ticket through the REST API (`POST /api/tickets`); time from
  sending the request until each watching client receives the marketplace delta that shows it
  (--pushes rounds), with 1 watcher (4x as many rounds), then with the N clients watching idle.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import socketio
import sqlalchemy as sa
from common import (
    drop_sqlite,
    fresh_sqlite,
    header,
    percentile,
    seed_sessions,
    seed_tickets,
    seed_users,
)

from tests.support import spawn_server  # noqa: E402
from tests.support.reflex_socket import compiled_hashes  # noqa: E402
from tests.support.servers import (  # noqa: E402
    NO_LISTING_LIMITS,
    VENV_BIN,
    Server,
    child_env,
    free_port,
    http_ready,
)

NAMESPACE = "/_event"  # Reflex's Socket.IO namespace (also its path)
STATE = "reflex___state____state"
HYDRATE = f"{STATE}.hydrate"
HYDRATE_AND_LOAD = f"{STATE}.hydrate_and_load"
ON_LOAD_INTERNAL = f"{STATE}.reflex___state____on_load_internal_state.on_load_internal"
MARKET = f"{STATE}.ticketing_app___state___market____market_state"
ORDER = f"{STATE}.ticketing_app___state___orders____order_state"
TICKET = f"{STATE}.ticketing_app___state___ticket____ticket_state"
HYDRATED = "is_hydrated_rx_state_"

OnDelta = Callable[["Browser", dict[str, Any], float], None]


def var(delta: dict[str, Any], state: str, name: str) -> Any:
    """A var of one state in a delta (None when the delta does not carry it)."""
    return (delta.get(state) or {}).get(f"{name}_rx_state_")


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
    """One tab on page `path` (optionally signed in with a `session` cookie)."""

    def __init__(
        self, base: str, path: str = "/", cookie: str | None = None, hashes: list[str] | None = None
    ) -> None:
        self.base, self.path = base, path
        # The compiled initialState's hashes, which the frontend sends with its first boot event
        # (the backend then leaves out what the page already holds); None: a full snapshot.
        self.hashes = hashes
        self.token = str(uuid.uuid4())
        self.headers = {"Cookie": f"session={cookie}"} if cookie else {}
        # Called with (browser, delta, time.time()) as each update arrives.
        self.on_delta: OnDelta | None = None
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_update, namespace=NAMESPACE)
        self._any = asyncio.Event()
        self._hydrated = asyncio.Event()

    def _event(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        route = {"pathname": self.path, "asPath": self.path}
        return {"token": self.token, "name": name, "payload": payload or {}, "router_data": route}

    async def _on_update(self, data: dict[str, Any]) -> None:
        at = time.time()
        delta = data.get("delta") or {}
        if self.on_delta is not None:
            self.on_delta(self, delta, at)
        if var(delta, STATE, "is_hydrated") is True:
            self._hydrated.set()
        self._any.set()

    async def connect(self) -> None:
        """Open the socket as the frontend does (boot event in the CONNECT packet: the state,
        then the page's on_load handlers) and wait until the page is hydrated."""
        await self.sio.connect(
            f"{self.base}?token={self.token}",
            headers=self.headers,
            auth={
                "event": self._event(
                    HYDRATE_AND_LOAD, {"hashes": self.hashes} if self.hashes else None
                )
            },
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=[NAMESPACE],
            wait_timeout=30,
        )
        await asyncio.wait_for(self._hydrated.wait(), 60)

    async def round_trip(self) -> float:
        """A hydrate event until its update comes back."""
        self._any.clear()
        t0 = time.perf_counter()
        await self.sio.emit("event", self._event(HYDRATE), namespace=NAMESPACE)
        await asyncio.wait_for(self._any.wait(), 30)
        return time.perf_counter() - t0

    async def page_load(self) -> float:
        """A client-side navigation to `path`: `on_load_internal` runs the page's on_load
        handlers; done when the update with `is_hydrated` true arrives."""
        self._hydrated.clear()
        t0 = time.perf_counter()
        await self.sio.emit("event", self._event(ON_LOAD_INTERNAL), namespace=NAMESPACE)
        await asyncio.wait_for(self._hydrated.wait(), 30)
        return time.perf_counter() - t0


async def connect_all(browsers: list[Browser], batch: int = 50) -> list[float]:
    """Connect in batches of `batch` at once; each client's seconds from opening its socket
    until its page is hydrated (its first rows on screen)."""

    async def timed(b: Browser) -> float:
        t0 = time.perf_counter()
        await b.connect()
        return time.perf_counter() - t0

    took: list[float] = []
    for i in range(0, len(browsers), batch):
        took += await asyncio.gather(*(timed(b) for b in browsers[i : i + batch]))
    return took


async def connect_crowd(
    base: str, pid: int, n: int, hashes: list[str] | None
) -> tuple[float, list[float]]:
    """N clients opening `/` (then disconnected): (KiB of backend RSS per client,
    connect -> hydrated seconds of each)."""
    before = tree_rss_kib(pid)
    crowd = [Browser(base, "/", hashes=hashes) for _ in range(n)]
    took = await connect_all(crowd)
    await asyncio.sleep(2)
    per_client = (tree_rss_kib(pid) - before) / n
    await close_all(crowd)
    return per_client, took


def blank_backend() -> Server:
    """The blank Reflex app (bench/blank_app: one page, no state), started like ours."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-blank-"))
    shutil.copytree(Path(__file__).parent / "blank_app", workdir, dirs_exist_ok=True)
    port = free_port()
    argv = [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--backend-only",
            "--backend-port", str(port)]  # fmt: skip
    return Server(
        "blank", argv, port=port, url=f"http://127.0.0.1:{port}", ready=http_ready("/ping"),
        env=child_env(), workdir=workdir, cwd=workdir, timeout=180, stop_timeout=20,
    )  # fmt: skip


async def versus_blank(
    ours: Server, blank: Server, n: int, rounds: int, hashes: dict[str, list[str] | None]
) -> None:
    """Connect N clients to each app in turn (`rounds` times, alternating); memory from each
    app's first round; connect -> hydrated p50 per round and app; both ratios (the connect one
    the median of the rounds' ratios)."""
    assert ours.proc is not None and blank.proc is not None
    results: dict[str, list[tuple[float, list[float]]]] = {"market": [], "blank": []}
    for _ in range(rounds):
        for name, server in (("market", ours), ("blank", blank)):
            assert server.proc is not None
            found = await connect_crowd(server.url, server.proc.pid, n, hashes[name])
            results[name].append(found)
    for i, (ours_found, blank_found) in enumerate(
        zip(results["market"], results["blank"], strict=True)
    ):
        m50, b50 = percentile(ours_found[1], 50), percentile(blank_found[1], 50)
        print(f"  round {i + 1}: connect -> hydrated p50 market {m50 * 1000:6.1f} ms, blank "
              f"{b50 * 1000:6.1f} ms: {m50 / b50:.2f}")  # fmt: skip
    summary = {}
    for name, found in results.items():
        memory = found[0][0]
        p50 = statistics.median(percentile(took, 50) for _kib, took in found)
        p99 = statistics.median(percentile(took, 99) for _kib, took in found)
        summary[name] = (memory, p50)
        print(f"  {name:6s} app, {n} clients connecting (50 at a time): connect -> hydrated "
              f"p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms (medians of the rounds); "
              f"backend memory {memory:.0f} KiB per client")  # fmt: skip
    memory_ratio = summary["market"][0] / summary["blank"][0]
    # Each round connects to one app right after the other, so the two share the machine's
    # moment: the median of the rounds' ratios is steadier than a ratio of separate bests.
    connect_ratio = statistics.median(
        percentile(ours[1], 50) / percentile(theirs[1], 50)
        for ours, theirs in zip(results["market"], results["blank"], strict=True)
    )
    print(f"  market/blank: memory per client {memory_ratio:.2f} (target <= 1.5), "
          f"connect -> hydrated p50 {connect_ratio:.2f}, the median of the rounds' "
          "(target <= 1.5)")  # fmt: skip


async def close_all(browsers: list[Browser]) -> None:
    await asyncio.gather(*(b.sio.disconnect() for b in browsers), return_exceptions=True)
    for b in browsers:  # engineio leaves each client's aiohttp session to the loop's end
        http = b.sio.eio.http
        if http is not None and not http.closed:
            await http.close()


async def fan_out(
    watchers: list[Browser], http: httpx.AsyncClient, rounds: int
) -> tuple[list[float], list[float]]:
    """List a ticket `rounds` times; per watcher and round, seconds from sending the request
    until the marketplace delta showing the new ticket arrives. Returns (latencies, the last
    watcher's latency per round)."""
    latencies, lasts = [], []
    for i in range(rounds + 1):  # the first round warms up and is not counted
        title = f"Live push {uuid.uuid4().hex[:8]}"
        got: dict[str, float] = {}
        done = asyncio.Event()

        def seen(
            b: Browser, delta: dict[str, Any], at: float,
            title: str = title, got: dict[str, float] = got, done: asyncio.Event = done,
        ) -> None:  # fmt: skip
            tickets = var(delta, MARKET, "tickets")
            if tickets and b.token not in got and any(t["title"] == title for t in tickets):
                got[b.token] = at
                if len(got) == len(watchers):
                    done.set()

        for b in watchers:
            b.on_delta = seen
        t0 = time.time()
        response = await http.post("/api/tickets", json={"title": title, "price": 25})
        assert response.status_code == 201, response.text
        await asyncio.wait_for(done.wait(), 120)
        round_lat = [at - t0 for at in got.values()]
        if i > 0:
            latencies += round_lat
            lasts.append(max(round_lat))
        await asyncio.sleep(1)  # let the pusher go quiet between rounds
    for b in watchers:
        b.on_delta = None
    return latencies, lasts


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:7.1f}"


async def run(
    base: str, pid: int, cookie: str, n: int, samples: int, every: float, pushes: int
) -> None:
    http = httpx.AsyncClient(base_url=base, cookies={"session": cookie}, timeout=60)
    probe = Browser(base, "/")
    await probe.connect()
    for _ in range(5):  # warm-up
        await probe.round_trip()
        await probe.page_load()
    idle_h, idle_l = [], []
    for _ in range(samples):  # alternate, so outside load hits both alike
        idle_h.append(await probe.round_trip())
        idle_l.append(await probe.page_load())
    one, one_last = await fan_out([probe], http, 4 * pushes)

    before = tree_rss_kib(pid)
    crowd = [Browser(base, "/") for _ in range(n)]
    await connect_all(crowd)
    await asyncio.sleep(2)
    after = tree_rss_kib(pid)
    many, many_last = await fan_out(crowd, http, pushes)

    stop = asyncio.Event()

    async def chatter(b: Browser) -> None:  # every client sends an event every ~`every` s
        rng = random.Random(b.token)
        while not stop.is_set():
            await asyncio.sleep(rng.uniform(0, 2 * every))
            await b.round_trip()

    chat = [asyncio.create_task(chatter(b)) for b in crowd] if every > 0 else []
    loaded_h, loaded_l = [], []
    for _ in range(samples):
        loaded_h.append(await probe.round_trip())
        loaded_l.append(await probe.page_load())
    stop.set()
    await asyncio.gather(*chat, return_exceptions=True)
    await http.aclose()

    print(f"  backend RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB with {n} clients on "
          f"the market page: {(after - before) / n:.0f} KiB per client")  # fmt: skip
    load = f"{n} clients" + (f", each 1 event/{every:g}s" if every > 0 else ", idle")
    for what, idle, loaded in (("hydrate", idle_h, loaded_h), ("page load /", idle_l, loaded_l)):
        for name, lat in (("1 client", idle), (load, loaded)):
            print(f"  {what:11s} round trip, {name:28s}: p50 {ms(lat, 50)} ms  "
                  f"p99 {ms(lat, 99)} ms")  # fmt: skip
        r50 = percentile(loaded, 50) / percentile(idle, 50)
        r99 = percentile(loaded, 99) / percentile(idle, 99)
        print(f"  {what:11s} ratio loaded/idle: p50 {r50:.2f}, p99 {r99:.2f}")
    for name, lat, last in (("1 watcher", one, one_last), (f"{n} watchers", many, many_last)):
        print(f"  live push (listing -> delta), {name:12s}: p50 {ms(lat, 50)} ms  "
              f"p99 {ms(lat, 99)} ms  max {max(lat) * 1000:7.1f} ms  (last watcher per "
              f"round: median {ms(last, 50)} ms; {len(lat)} deliveries)")  # fmt: skip
    r50 = percentile(many, 50) / percentile(one, 50)
    r99 = percentile(many, 99) / percentile(one, 99)
    print(f"  live push ratio {n}/1 watchers: p50 {r50:.2f}, p99 {r99:.2f}")
    await close_all([probe, *crowd])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--every", type=float, default=5.0, help="each client sends an event every ~N s (0: idle)"
    )
    parser.add_argument("--pushes", type=int, default=5, help="listings fanned out to N clients")
    parser.add_argument(
        "--rounds", type=int, default=5, help="connect rounds per app against the blank app"
    )
    parser.add_argument(
        "--blank-only",
        action="store_true",
        help="only the comparison with the blank app (memory, connect -> hydrated)",
    )
    parser.add_argument(
        "--full-snapshot",
        action="store_true",
        help="boot events without the compiled state's hashes (as on a reconnect): full state",
    )
    parser.add_argument(
        "--no-read-model",
        action="store_true",
        help="TICKETING_READ_MODEL=false: every page read from the database (the 'before')",
    )
    args = parser.parse_args()
    header(f"Connected clients: {args.clients} Socket.IO clients on one backend worker")
    print(f"  load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    db_url = fresh_sqlite()
    engine = sa.create_engine(db_url)
    (seller,) = seed_users(engine, 1, "seller")
    seed_tickets(engine, seller, 1000)
    (cookie,) = seed_sessions(engine, [seller])
    engine.dispose()
    log = Path(tempfile.mkdtemp(prefix="bench-clients-")) / "backend.log"
    env = {**NO_LISTING_LIMITS, "DATABASE_URL": db_url}
    if args.no_read_model:
        env["TICKETING_READ_MODEL"] = "false"
    backend = spawn_server("backend", env, log_path=log, start=False)
    blank = blank_backend()
    try:
        backend.start()
        blank.start()
        assert backend.proc is not None
        hashes: dict[str, list[str] | None] = {"market": None, "blank": None}
        if not args.full_snapshot:
            hashes = {
                "market": compiled_hashes(backend, "ticketing_app.ticketing_app"),
                "blank": compiled_hashes(blank, "blank.blank"),
            }
        print(f"  first boot events {'with' if hashes['market'] else 'without'} the compiled "
              "initialState's hashes")  # fmt: skip
        asyncio.run(versus_blank(backend, blank, args.clients, args.rounds, hashes))
        blank.remove()
        if not args.blank_only:
            asyncio.run(
                run(backend.url, backend.proc.pid, cookie, args.clients, args.samples,
                    args.every, args.pushes)
            )  # fmt: skip
    finally:
        backend.remove()
        blank.remove()
        drop_sqlite(db_url)


if __name__ == "__main__":
    main()
