"""Outbox relay throughput: a burst of N committed events relayed to JetStream, against raw
nats-py publishing of the same N messages in the same run (the ceiling for one connection).

    .venv/bin/python bench/bench_events.py [--events 10000] [--nats-url URL] [--database-url URL]

Both sides publish pipelined (publish_async) and wait for every JetStream ack; the relay also
reads the rows from the outbox and stamps them published. Uses throwaway streams (deleted
afterwards) and, by default, a throwaway SQLite database. Prints, for each side, the best of
--rounds (default 3; rounds alternate so outside load hits both alike): events/s and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.db_helpers import migrate  # noqa: E402
from ticketing_app import outbox  # noqa: E402
from ticketing_app.db import dispose_engines, session_factory  # noqa: E402
from ticketing_app.lease import FileLease  # noqa: E402
from ticketing_app.outbox import store  # noqa: E402
from ticketing_app.outbox.relay import Relay  # noqa: E402
from ticketing_app.outbox.stream import (  # noqa: E402
    MSG_ID,
    connect,
    encode,
    ensure_stream,
    subject,
)


def write_burst(url: str, n: int) -> None:
    """N TicketUpdated-sized events committed in one transaction (a burst)."""
    now = datetime.now(UTC)
    ticket_id = str(uuid.uuid4())
    with session_factory(url)() as db, db.begin():
        for version in range(1, n + 1):
            outbox.record(
                db,
                type="TicketUpdated",
                aggregate_type="ticket",
                aggregate_id=ticket_id,
                aggregate_version=version,
                payload={
                    "id": ticket_id,
                    "title": "Bench concert, front row",
                    "price": 120.5,
                    "userId": str(uuid.uuid4()),
                    "orderId": None,
                    "status": "available",
                    "version": version,
                    "createdAt": now,
                    "updatedAt": now,
                },
                now=now,
            )


async def baseline(nats_url: str, url: str, n: int) -> float:
    """Raw nats-py: publish the same N encoded messages pipelined, wait for all acks."""
    rows = store.fetch_unpublished(url, limit=n)  # this round's burst
    name, prefix = f"BENCH_RAW_{uuid.uuid4().hex[:8].upper()}", f"bench{uuid.uuid4().hex[:8]}"
    nc = await connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, name, prefix)
    try:
        start = time.perf_counter()
        futures = [
            await js.publish_async(
                subject(prefix, r.aggregate_type, r.type), encode(r), headers={MSG_ID: r.id}
            )
            for r in rows
        ]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - start
    finally:
        await js.delete_stream(name)
        await nc.close()
    return elapsed


async def relayed(nats_url: str, url: str, n: int) -> float:
    """The relay, from start (events already committed) until all N are acked and stamped."""
    name, prefix = f"BENCH_RELAY_{uuid.uuid4().hex[:8].upper()}", f"bench{uuid.uuid4().hex[:8]}"
    relay = Relay(
        database_url=url,
        nats_url=nats_url,
        stream=name,
        subject_prefix=prefix,
        lease=FileLease(f"bench-{name}", 10),
    )
    start = time.perf_counter()
    task = asyncio.create_task(relay.run())
    try:
        while relay.published < n:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        nc = await connect(nats_url)
        await nc.jetstream().delete_stream(name)
        await nc.close()
    assert store.count_unpublished(url) == 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("NATS_URL")
        or os.environ.get("TEST_NATS_URL")
        or "nats://127.0.0.1:4222",
    )
    parser.add_argument(
        "--database-url", help="a scratch database it may fill (default: a temporary SQLite file)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    args = parser.parse_args()
    n, raws, rels = args.events, [], []
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        migrate(url)
        for _ in range(args.rounds):  # alternate, so load from elsewhere hits both sides alike
            write_burst(url, n)
            raws.append(asyncio.run(baseline(args.nats_url, url, n)))
            rels.append(asyncio.run(relayed(args.nats_url, url, n)))
        dispose_engines()
    raw, rel = min(raws), min(rels)
    print(f"events:             {n} per round, best of {args.rounds}")
    print(f"                    ({url.split('://')[0]}, {args.nats_url})")
    print(f"raw nats-py (base): {n / raw:10.0f} events/s  ({raw:.2f} s)")
    print(f"outbox relay:       {n / rel:10.0f} events/s  ({rel:.2f} s)")
    print(f"relay / baseline:   {raw / rel:10.2f}")


if __name__ == "__main__":
    main()
