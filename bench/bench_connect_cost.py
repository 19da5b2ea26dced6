"""What a new tab's connect costs the backend, market page vs a blank Reflex app, counted in
instructions: the figure behind bench_clients.py's connect ratio, without the machine's noise.

    .venv/bin/python bench/bench_connect_cost.py [--connects 100] [--timing]

bench_clients.py times 500 real sockets, and on a shared machine its rounds spread by ±20 %
(a plain Python loop here varies by as much from one run to the next). This one runs each app
in a process of its own (prod mode, the app's lifespan started, SQLite with 1,000 tickets for
the market) and drives Reflex's own connect handler, `EventNamespace.on_connect`, with the
boot event the 0.10 frontend puts in the CONNECT packet (`hydrate_and_load` for `/` with the
compiled initialState's hashes) — 50 at a time, as bench_clients.py does — and an `emit` that
encodes each update as Socket.IO would (`reflex.app._sio_dumps`) instead of writing it to a
socket. Under `valgrind --tool=callgrind` (instrumentation on only while the measured connects
run, main thread only), the instructions per connect are the same from run to run to within
0.1 %, whatever else the machine is doing. What it leaves out is what both apps share: the
HTTP upgrade, engine.io/socket.io framing, granian. So its ratio is higher than the socket
bench's: it is the market's own cost over Reflex's per-connect minimum.

The app's background loops (job leases, the read model's gap check, the outbox relay) are
stopped before the measured connects: they run per second, not per connect, and under valgrind
a second is ~50× more connects' worth of time. `--timing` runs without valgrind and reports CPU
seconds (process_time) per connect instead, five rounds each: quick, but as noisy as the
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import ROOT, drop_sqlite, fresh_sqlite, header, seed_tickets, seed_users

APPS = {"market": "ticketing_app.ticketing_app", "blank": "blank.blank"}
ROOT_STATE = "reflex___state____state"
HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"user-agent", b"Python/3.11 aiohttp/3.14.5"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-key", b"10JdwImWuoe/vn2d7x2ZLw=="),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate"),
]


# -- the child: one app, in its own working directory ---------------------------------------


async def _connects(app: Any, hashes: list[str], n: int) -> None:
    """`n` tabs boot `/` (50 at a time) and are hydrated, then disconnect."""
    namespace = app.event_namespace
    hydrated: dict[str, asyncio.Event] = {}

    async def one() -> str:
        sid, token = uuid.uuid4().hex[:20], str(uuid.uuid4())
        hydrated[sid] = asyncio.Event()
        environ = {
            "QUERY_STRING": f"token={token}&EIO=4&transport=websocket",
            "asgi.scope": {"headers": HEADERS, "client": ("127.0.0.1", 5555)},
        }
        boot = {
            "token": token,
            "name": f"{ROOT_STATE}.hydrate_and_load",
            "payload": {"hashes": hashes},
            "router_data": {"pathname": "/", "asPath": "/"},
        }
        await namespace.on_connect(sid, environ, {"event": boot})
        await asyncio.wait_for(hydrated[sid].wait(), 60)
        return sid

    async def emit(event: str, data: Any, to: str | None = None, **_: Any) -> None:
        from reflex.app import _sio_dumps

        _sio_dumps(["event", data])  # what the socket would send
        root = (getattr(data, "delta", None) or {}).get(ROOT_STATE) or {}
        if root.get("is_hydrated_rx_state_") is True and to in hydrated:
            hydrated[to].set()

    namespace.emit = emit
    sids: list[str] = []
    for i in range(0, n, 50):
        sids += await asyncio.gather(*(one() for _ in range(min(50, n - i))))
    for sid in sids:
        task = namespace.on_disconnect(sid)
        if task is not None:
            await task
        hydrated.pop(sid, None)


def _stop_background_loops() -> None:
    me = asyncio.current_task()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if task is not me and code is not None and "ticketing_app" in code.co_filename:
            task.cancel()


async def _child_main(which: str, n: int, rounds: int, counted: bool) -> None:
    import gc

    from reflex.compiler.utils import compile_state
    from reflex.state import State, state_snapshot_hashes

    import rxconfig  # noqa: F401 - the app's configuration, as `reflex run` loads it

    app = importlib.import_module(APPS[which]).app
    hashes = state_snapshot_hashes(json.loads(json.dumps(compile_state(State), default=str)))
    asgi = app()
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await received.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        asgi({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, received.get, sent.put)
    )
    started = await sent.get()
    assert started["type"] == "lifespan.startup.complete", started
    await _connects(app, hashes, 50)  # warm: imports, caches, the read model
    _stop_background_loops()
    await asyncio.sleep(0.5)
    pid = str(os.getpid())
    for r in range(rounds):
        await _connects(app, hashes, 20)
        gc.collect()
        if counted:
            _callgrind("-z", pid)
            _callgrind("-i", "on", pid)
        t0 = time.process_time()
        await _connects(app, hashes, n)
        took = time.process_time() - t0
        if counted:
            _callgrind("-i", "off", pid)
            _callgrind("-d", f"round-{r}", pid)
        else:
            print(f"ROUND {took / n * 1e6:.1f}", flush=True)
    await received.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(lifespan, 30)


def _callgrind(*args: str) -> None:
    """Tell the callgrind running this process (instrumentation on/off, zero, dump)."""
    subprocess.run(["callgrind_control", *args], capture_output=True, check=True)


# -- the parent ---------------------------------------------------------------------------


def _workdir(which: str) -> Path:
    from tests.support.servers import link_project

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-cost-{which}-"))
    if which == "market":
        link_project(workdir)
    else:
        shutil.copytree(Path(__file__).parent / "blank_app", workdir, dirs_exist_ok=True)
    return workdir


def _run(which: str, db_url: str, n: int, rounds: int, counted: bool) -> list[float]:
    """Instructions (counted) or CPU µs (timing) per connect, one figure per round."""
    from tests.support.servers import NO_LISTING_LIMITS, child_env

    workdir = _workdir(which)
    env = child_env({**NO_LISTING_LIMITS, "DATABASE_URL": db_url, "REFLEX_ENV_MODE": "prod"})
    argv = [sys.executable, __file__, "--child", which, "--connects", str(n),
            "--rounds", str(rounds)]  # fmt: skip
    out_file = workdir / "callgrind.out"
    if counted:
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
                f"--callgrind-out-file={out_file}", *argv]  # fmt: skip
    else:
        argv.append("--timing")
    try:
        done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{which}: exit {done.returncode}\n{done.stderr[-3000:]}")
        if not counted:
            return [float(line.split()[1]) for line in done.stdout.splitlines()
                    if line.startswith("ROUND ")]  # fmt: skip
        figures = []
        for r in range(1, rounds + 1):
            # Thread 1 (the event loop) of dump r: `callgrind.out.<r>-01`.
            text = Path(f"{out_file}.{r}-01").read_text()
            totals = int(re.search(r"^totals: (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
            figures.append(totals / n)
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=None, help="default: 2 counted, 5 timed")
    parser.add_argument("--timing", action="store_true", help="CPU seconds, no valgrind")
    parser.add_argument("--child", choices=sorted(APPS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    counted = not args.timing and shutil.which("valgrind") is not None
    rounds = args.rounds or (2 if counted else 5)
    if args.child:
        sys.path.insert(0, os.getcwd())
        asyncio.run(_child_main(args.child, args.connects, rounds, not args.timing))
        return
    header("Connect cost: the market page's boot event vs a blank Reflex app's, in process")
    unit = "instructions" if counted else "CPU µs"
    print(f"  {args.connects} connects a round, {rounds} rounds, {unit} per connect"
          f"{' (callgrind, main thread)' if counted else ' (process_time; noisy)'}")  # fmt: skip
    db_url = fresh_sqlite()
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    (seller,) = seed_users(engine, 1, "seller")
    seed_tickets(engine, seller, 1000)
    engine.dispose()
    try:
        found = {which: _run(which, db_url, args.connects, rounds, counted) for which in APPS}
    finally:
        drop_sqlite(db_url)
    for which, figures in found.items():
        shown = "  ".join(f"{f:,.0f}" if counted else f"{f:.0f}" for f in figures)
        print(f"  {which:6s} app: {shown}")
    market, blank = min(found["market"]), min(found["blank"])
    print(f"  market/blank: {market / blank:.2f} (the least of each app's rounds)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
