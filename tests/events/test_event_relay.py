"""The relay publishes every committed event to JetStream exactly once, in outbox order,
whatever happens to NATS or to the relay itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nats
import pytest
import redis

from ticketing_app.lease import RedisLease
from ticketing_app.outbox import store
from ticketing_app.outbox.relay import Relay, run_relay
from ticketing_app.outbox.stream import DUPLICATE_WINDOW_SECONDS, ensure_stream
from ticketing_app.settings import reset_settings

ROOT = Path(__file__).resolve().parents[2]


def outbox_ids(url: str) -> list[str]:
    return [r.id for r in store.fetch_since(url, limit=100_000)]


def make_relay(db_url: str, nats_url: str, stream, **kw) -> Relay:  # type: ignore[no-untyped-def]
    kw.setdefault("poll_interval", 0.2)
    return Relay(
        database_url=db_url,
        nats_url=nats_url,
        stream=stream.name,
        subject_prefix=stream.prefix,
        **kw,
    )


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> float:
    """Poll `condition` (in a thread: it may query the database); returns the seconds it took."""
    start = time.monotonic()
    while not await asyncio.to_thread(condition):
        assert time.monotonic() - start < timeout, f"timed out waiting for {what or condition}"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def drain(relay: Relay, db_url: str) -> None:
    async def go() -> None:
        task = asyncio.create_task(relay.run())
        try:
            await wait_for(lambda: store.count_unpublished(db_url) == 0, what="outbox drained")
        finally:
            await stop(task)

    asyncio.run(go())


def test_every_event_reaches_jetstream_once_in_order(db_url, market, nats_url, stream, reader):
    expected = market.busy_day()
    drain(make_relay(db_url, nats_url, stream), db_url)

    got = reader(stream, expect=expected)
    assert [m["id"] for m in got] == outbox_ids(db_url)
    assert len(got) == expected
    first = got[0]
    assert first["type"] == "UserCreated"
    assert first["_subject"] == f"{stream.prefix}.user.UserCreated"
    assert first["_headers"]["Nats-Msg-Id"] == first["id"]
    reserve = next(m for m in got if m["type"] == "OrderCreated")
    # A consumer can act on it without calling back.
    assert {"userId", "ticketId", "price", "expiresAt", "status"} <= reserve["data"].keys()
    assert reserve["data"]["expiresAt"].endswith("Z")
    assert reserve["occurredAt"].endswith("Z") and reserve["version"] == 1


def test_small_batches_keep_outbox_order(sqlite_url, sqlite_market, nats_url, stream, reader):
    expected = sqlite_market.busy_day() + sqlite_market.busy_day()
    relay = make_relay(sqlite_url, nats_url, stream, batch_size=3)
    drain(relay, sqlite_url)
    assert relay.published == expected
    assert [m["id"] for m in reader(stream, expect=expected)] == outbox_ids(sqlite_url)


def test_relay_wakes_on_commit_without_waiting_for_the_poll(
    sqlite_url, sqlite_market, nats_url, stream
):
    relay = make_relay(sqlite_url, nats_url, stream, poll_interval=30)

    async def go() -> float:
        task = asyncio.create_task(relay.run())
        try:
            await wait_for(lambda: relay.active, what="relay active")
            await asyncio.sleep(0.3)  # the first (empty) pass is over; it now sleeps 30 s
            await asyncio.to_thread(sqlite_market.signup)  # commits in another thread
            return await wait_for(lambda: relay.published == 1, timeout=5, what="published")
        finally:
            await stop(task)

    assert asyncio.run(go()) < 2.0  # the poll would have taken 30 s


def test_backlog_published_in_order_when_nats_comes_back(
    sqlite_url, sqlite_market, throwaway_nats, stream, reader
):
    relay = make_relay(sqlite_url, throwaway_nats.url, stream, max_backoff=0.5, ack_timeout=2)

    async def go() -> int:
        task = asyncio.create_task(relay.run())
        try:
            # NATS down from the start: the app keeps working, events wait in the outbox.
            n1 = await asyncio.to_thread(sqlite_market.busy_day)
            await asyncio.sleep(1)
            assert not relay.active and store.count_unpublished(sqlite_url) == n1
            await asyncio.to_thread(throwaway_nats.start)
            await wait_for(lambda: store.count_unpublished(sqlite_url) == 0, what="backlog 1")
            # NATS dies while the relay is connected, then returns with its store intact.
            await asyncio.to_thread(throwaway_nats.stop)
            n2 = await asyncio.to_thread(sqlite_market.busy_day)
            await asyncio.sleep(1.5)
            assert store.count_unpublished(sqlite_url) == n2
            await asyncio.to_thread(throwaway_nats.start)
            await wait_for(
                lambda: store.count_unpublished(sqlite_url) == 0, timeout=30, what="backlog 2"
            )
            return n1 + n2
        finally:
            await stop(task)

    total = asyncio.run(go())
    got = reader(stream, url=throwaway_nats.url, expect=total)
    assert [m["id"] for m in got] == outbox_ids(sqlite_url)


def test_relay_killed_between_publish_and_mark_delivers_no_duplicate(
    db_url, market, nats_url, stream, reader
):
    expected = market.busy_day()
    crash = (
        "import asyncio, os, sys\n"
        "from ticketing_app.outbox.relay import Relay\n"
        "class Crash(Relay):\n"
        "    async def mark_published(self, seqs):\n"
        "        os._exit(17)  # dies after JetStream acked, before the outbox is stamped\n"
        "db, url, name, prefix = sys.argv[1:5]\n"
        "asyncio.run(Crash(database_url=db, nats_url=url, stream=name, subject_prefix=prefix)"
        ".run())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", crash, db_url, nats_url, stream.name, stream.prefix],
        cwd=ROOT,
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 17, proc.stderr
    assert store.count_unpublished(db_url) == expected  # published, never marked
    assert len(reader(stream, expect=expected)) == expected

    relay = make_relay(db_url, nats_url, stream)
    drain(relay, db_url)
    assert relay.published == expected  # re-published every one of them...
    got = reader(stream, expect=expected)
    assert [m["id"] for m in got] == outbox_ids(db_url)  # ...and JetStream kept one copy each


def test_one_active_relay_and_takeover_when_it_stops(db_url, market, nats_url, stream, reader):
    first = make_relay(db_url, nats_url, stream)
    second = make_relay(db_url, nats_url, stream)

    async def go() -> None:
        t1 = asyncio.create_task(first.run())
        await wait_for(lambda: first.active, what="first relay active")
        t2 = asyncio.create_task(second.run())
        await asyncio.to_thread(market.busy_day)
        await wait_for(lambda: store.count_unpublished(db_url) == 0, what="drained")
        assert not second.active and second.published == 0
        await stop(t1)  # the holder goes away (its lease is released or expires)
        await wait_for(lambda: second.active, timeout=15, what="takeover")
        await asyncio.to_thread(market.busy_day)
        await wait_for(lambda: store.count_unpublished(db_url) == 0, what="drained again")
        await stop(t2)

    asyncio.run(go())
    assert first.published == 15 and second.published == 15
    got = reader(stream, expect=30)
    assert [m["id"] for m in got] == outbox_ids(db_url)


def test_stream_is_created_with_a_long_duplicate_window(nats_url, stream):
    async def go() -> tuple[float, list[str]]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await js.add_stream(
                name=stream.name, subjects=[f"{stream.prefix}.>"], duplicate_window=60
            )
            await ensure_stream(js, stream.name, stream.prefix)  # widens a short window
            info = await js.stream_info(stream.name)
            return info.config.duplicate_window, list(info.config.subjects or [])
        finally:
            await nc.close()

    window, subjects = asyncio.run(go())
    assert window >= DUPLICATE_WINDOW_SECONDS
    assert subjects == [f"{stream.prefix}.>"]


def test_run_relay_uses_the_settings(
    sqlite_url, sqlite_market, nats_url, stream, reader, monkeypatch
):
    for name, value in {
        "DATABASE_URL": sqlite_url,
        "NATS_URL": nats_url,
        "NATS_STREAM": stream.name,
        "NATS_SUBJECT_PREFIX": stream.prefix,
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()

    async def go() -> None:
        task = asyncio.create_task(run_relay())
        try:
            await asyncio.to_thread(sqlite_market.signup)
            await wait_for(lambda: store.count_unpublished(sqlite_url) == 0, what="published")
        finally:
            await stop(task)

    try:
        asyncio.run(go())
    finally:
        monkeypatch.undo()
        reset_settings()
    assert [m["type"] for m in reader(stream, expect=1)] == ["UserCreated"]


def test_run_relay_is_a_no_op_without_nats_url(monkeypatch):
    monkeypatch.delenv("NATS_URL", raising=False)
    reset_settings()
    try:
        asyncio.run(asyncio.wait_for(run_relay(), timeout=5))
    finally:
        reset_settings()


def test_relay_that_loses_its_lease_stands_by(sqlite_url, sqlite_market, nats_url, stream, reader):
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL not set (CI sets it)")
    lease = RedisLease(f"test-relay-{stream.name}", 1.0, redis_url)
    relay = make_relay(sqlite_url, nats_url, stream, lease=lease)
    thief = redis.Redis.from_url(redis_url)

    async def go() -> None:
        task = asyncio.create_task(relay.run())
        try:
            await wait_for(lambda: relay.active, what="active")
            thief.set(lease.key, "someone-else", px=60_000)  # e.g. our key expired during a pause
            await wait_for(lambda: not relay.active, timeout=5, what="standing by")
            await asyncio.to_thread(sqlite_market.signup)
            await asyncio.sleep(1.5)
            assert store.count_unpublished(sqlite_url) == 1  # not ours to publish any more
            thief.delete(lease.key)  # the other holder goes away
            await wait_for(lambda: store.count_unpublished(sqlite_url) == 0, what="took it back")
        finally:
            await stop(task)
            thief.delete(lease.key)
            thief.close()

    asyncio.run(go())
    assert [m["type"] for m in reader(stream, expect=1)] == ["UserCreated"]
