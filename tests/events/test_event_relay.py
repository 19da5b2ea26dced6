"""The relay publishes every committed event to JetStream exactly once, in outbox order,
whatever happens to NATS or to the relay itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import nats
import pytest
import redis

from tests.support import ROOT, wait_until_async
from tests.support.relay import drain, make_relay, outbox_drained, stop_task
from ticketing_app.lease import RedisLease
from ticketing_app.outbox import store
from ticketing_app.outbox.relay import run_relay
from ticketing_app.outbox.stream import DUPLICATE_WINDOW_SECONDS, ensure_stream
from ticketing_app.settings import reset_settings


def outbox_ids(url: str) -> list[str]:
    return [r.id for r in store.fetch_since(url, limit=100_000)]


def test_every_event_reaches_jetstream_once_in_order(db_url, world, nats_url, stream, reader):
    expected = world.busy_day()
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


def test_small_batches_keep_outbox_order(sqlite_url, sqlite_world, nats_url, stream, reader):
    expected = sqlite_world.busy_day() + sqlite_world.busy_day()
    relay = make_relay(sqlite_url, nats_url, stream, batch_size=3)
    drain(relay, sqlite_url)
    assert relay.published == expected
    assert [m["id"] for m in reader(stream, expect=expected)] == outbox_ids(sqlite_url)


def test_relay_wakes_on_commit_without_waiting_for_the_poll(
    sqlite_url, sqlite_world, nats_url, stream
):
    relay = make_relay(sqlite_url, nats_url, stream, poll_interval=30)

    async def go() -> float:
        task = asyncio.create_task(relay.run())
        try:
            # The first (empty) pass is over: it now sleeps until woken or the poll is due.
            await wait_until_async(lambda: relay.passes >= 1, 15, "the first pass over")
            await asyncio.to_thread(sqlite_world.user)  # commits in another thread
            return await wait_until_async(lambda: relay.published == 1, 5, "published")
        finally:
            await stop_task(task)

    assert asyncio.run(go()) < 2.0  # the poll would have taken 30 s


def test_backlog_published_in_order_when_nats_comes_back(
    sqlite_url, sqlite_world, throwaway_nats, stream, reader
):
    relay = make_relay(sqlite_url, throwaway_nats.url, stream, max_backoff=0.5, ack_timeout=2)

    async def go() -> int:
        task = asyncio.create_task(relay.run())
        try:
            # NATS down from the start: the app keeps working, events wait in the outbox.
            n1 = await asyncio.to_thread(sqlite_world.busy_day)
            await asyncio.sleep(1)
            assert not relay.active and store.count_unpublished(sqlite_url) == n1
            await asyncio.to_thread(throwaway_nats.start)
            await outbox_drained(sqlite_url, what="backlog 1")
            # NATS dies while the relay is connected, then returns with its store intact.
            await asyncio.to_thread(throwaway_nats.stop)
            n2 = await asyncio.to_thread(sqlite_world.busy_day)
            await asyncio.sleep(1.5)
            assert store.count_unpublished(sqlite_url) == n2
            await asyncio.to_thread(throwaway_nats.start)
            await outbox_drained(sqlite_url, 30, "backlog 2")
            return n1 + n2
        finally:
            await stop_task(task)

    total = asyncio.run(go())
    got = reader(stream, url=throwaway_nats.url, expect=total)
    assert [m["id"] for m in got] == outbox_ids(sqlite_url)


def test_relay_killed_between_publish_and_mark_delivers_no_duplicate(
    db_url, world, nats_url, stream, reader
):
    expected = world.busy_day()
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


def test_one_active_relay_and_takeover_when_it_stops(db_url, world, nats_url, stream, reader):
    first = make_relay(db_url, nats_url, stream)
    second = make_relay(db_url, nats_url, stream)

    async def go() -> None:
        t1 = asyncio.create_task(first.run())
        await wait_until_async(lambda: first.active, 15, "first relay active", in_thread=True)
        t2 = asyncio.create_task(second.run())
        await asyncio.to_thread(world.busy_day)
        await outbox_drained(db_url, what="drained")
        assert not second.active and second.published == 0
        await stop_task(t1)  # the holder goes away (its lease is released or expires)
        await wait_until_async(lambda: second.active, 15, "takeover", in_thread=True)
        await asyncio.to_thread(world.busy_day)
        await outbox_drained(db_url, what="drained again")
        await stop_task(t2)

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
    sqlite_url, sqlite_world, nats_url, stream, reader, monkeypatch
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
            await asyncio.to_thread(sqlite_world.user)
            await outbox_drained(sqlite_url, what="published")
        finally:
            await stop_task(task)

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


def test_relay_that_loses_its_lease_stands_by(sqlite_url, sqlite_world, nats_url, stream, reader):
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL not set (CI sets it)")
    lease = RedisLease(f"test-relay-{stream.name}", 1.0, redis_url)
    relay = make_relay(sqlite_url, nats_url, stream, lease=lease)
    thief = redis.Redis.from_url(redis_url)

    async def go() -> None:
        task = asyncio.create_task(relay.run())
        try:
            await wait_until_async(lambda: relay.active, 15, "active", in_thread=True)
            thief.set(lease.key, "someone-else", px=60_000)  # e.g. our key expired during a pause
            await wait_until_async(lambda: not relay.active, 5, "standing by", in_thread=True)
            await asyncio.to_thread(sqlite_world.user)
            await asyncio.sleep(1.5)
            assert store.count_unpublished(sqlite_url) == 1  # not ours to publish any more
            thief.delete(lease.key)  # the other holder goes away
            await outbox_drained(sqlite_url, what="took it back")
        finally:
            await stop_task(task)
            thief.delete(lease.key)
            thief.close()

    asyncio.run(go())
    assert [m["type"] for m in reader(stream, expect=1)] == ["UserCreated"]
