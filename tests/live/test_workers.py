"""Several workers: one active scheduler at a time (the lease), takeover when the holder dies,
and events committed by another process reaching this one over Redis (the event bus)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import textwrap
import time
import uuid
from datetime import timedelta

import pytest
from live_helpers import LOCK_SECONDS

from tests.support import ROOT, World, wait_until_async
from ticketing_app import outbox
from ticketing_app.jobs import run_scheduler
from ticketing_app.jobs.bus import EventBus
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.lease import make_lease
from ticketing_app.models import utcnow
from ticketing_app.outbox import Event

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture(params=["database", "redis"])
def lease_backend(request: pytest.FixtureRequest) -> str:
    """'database': PostgreSQL advisory lock or file lock (SQLite); 'redis': SET NX PX."""
    if request.param == "redis" and not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set (CI sets it)")
    return request.param


def test_one_scheduler_active_and_a_dead_holder_is_replaced(
    world: World, db_url: str, lease_backend: str
) -> None:
    name = f"expiry-test-{uuid.uuid4().hex[:8]}"
    redis_url = TEST_REDIS_URL if lease_backend == "redis" else ""
    ttl = 1.5
    seller, buyer = world.user(), world.user()

    async def scenario() -> None:
        first = ExpiryScheduler(db_url=db_url, sweep_seconds=60)
        second = ExpiryScheduler(db_url=db_url, sweep_seconds=60)
        unsubscribe = [outbox.subscribe(s.on_event) for s in (first, second)]
        lease_a = make_lease(name, ttl_seconds=ttl, redis_url=redis_url, database_url=db_url)
        lease_b = make_lease(name, ttl_seconds=ttl, redis_url=redis_url, database_url=db_url)
        asked: list[tuple[float, bool]] = []  # when b tried to take the lease, what it got
        try_acquire_b = lease_b.try_acquire

        def ask_b() -> bool:
            held = try_acquire_b()
            asked.append((time.monotonic(), held))
            return held

        lease_b.try_acquire = ask_b  # type: ignore[method-assign]
        task_a = asyncio.create_task(run_scheduler(first, lease=lease_a, poll_seconds=0.2))
        await wait_until_async(lambda: first.running, 3, "first scheduler running")
        task_b = asyncio.create_task(run_scheduler(second, lease=lease_b, poll_seconds=0.2))
        # b has asked for the lease (every 0.2 s) for longer than its TTL, while a renews it.
        await wait_until_async(
            lambda: len(asked) > 1 and asked[-1][0] - asked[0][0] > ttl, ttl + 3, "b kept asking"
        )
        assert not any(held for _, held in asked)
        assert first.running and not second.running
        try:
            if lease_backend == "redis":
                # Die like kill -9: no release, the key has to time out.
                lease_a.release = lambda: None  # type: ignore[method-assign]
            task_a.cancel()
            await asyncio.gather(task_a, return_exceptions=True)
            took = await wait_until_async(lambda: second.running, ttl + 2, "takeover")
            assert took < ttl + 1.0
            # The new holder expires on time an order created after the takeover.
            order = await asyncio.to_thread(world.order, buyer, world.ticket(seller))
            await wait_until_async(
                lambda: world.get_order(order.id).status == "expired", LOCK_SECONDS + 2, "expired"
            )
            assert utcnow() - order.expires_at < timedelta(seconds=1)
        finally:
            task_b.cancel()
            await asyncio.gather(task_b, return_exceptions=True)
            for stop in unsubscribe:
                stop()
            first.stop()
            second.stop()

    asyncio.run(scenario())


WORKER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from ticketing_app.db import write_session
    from ticketing_app.jobs.bus import EventBus
    from ticketing_app.services import orders

    async def main(db_url, redis_url, channel, buyer_id, ticket_id):
        bus = EventBus(redis_url=redis_url, channel=channel)
        task = asyncio.create_task(bus.run())
        await asyncio.wait_for(bus.subscribed.wait(), 10)

        def reserve():
            with write_session(db_url) as db:
                orders.reserve_ticket(
                    db.get_bind(), buyer_id=buyer_id, ticket_id=ticket_id, now=datetime.now(UTC)
                )

        await asyncio.to_thread(reserve)
        # Stay up (publishing) until the test has received our events: it closes our stdin.
        await asyncio.to_thread(sys.stdin.read)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL not set (CI sets it)")
def test_an_order_made_on_another_worker_reaches_this_scheduler_and_expires_on_time(
    world: World, db_url: str
) -> None:
    channel = f"ticketing:test-events:{uuid.uuid4().hex[:8]}"
    seller, buyer = world.user(), world.user()
    ticket = world.ticket(seller)
    received: list[Event] = []

    async def scenario() -> None:
        bus = EventBus(redis_url=TEST_REDIS_URL, channel=channel)
        scheduler = ExpiryScheduler(db_url=db_url, sweep_seconds=60)  # timers only
        bus.add_listener(received.append)
        bus.add_listener(scheduler.on_event)
        task = asyncio.create_task(bus.run())
        await asyncio.wait_for(bus.subscribed.wait(), 10)
        await asyncio.to_thread(scheduler.start)
        try:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER_SCRIPT,
                db_url,
                TEST_REDIS_URL or "",
                channel,
                buyer.id,
                ticket.id,
                cwd=str(ROOT),
                env={**os.environ, "TICKETING_LOCK_SECONDS": str(LOCK_SECONDS)},
                stdin=asyncio.subprocess.PIPE,
            )
            try:
                await wait_until_async(
                    lambda: (
                        any(e.type == "OrderCreated" for e in received)
                        or worker.returncode is not None
                    ),
                    60,
                    "the other worker's OrderCreated",
                )
            finally:
                assert worker.stdin is not None
                worker.stdin.close()  # the worker may exit now
            assert await asyncio.wait_for(worker.wait(), 60) == 0
            created = next(e for e in received if e.type == "OrderCreated")
            assert created.payload["ticketId"] == ticket.id
            order_id = created.aggregate_id
            await wait_until_async(
                lambda: world.get_order(order_id).status == "expired", LOCK_SECONDS + 3, "expired"
            )
            assert utcnow() - world.get_order(order_id).expires_at < timedelta(seconds=1)
        finally:
            scheduler.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert {e.type for e in received} >= {"OrderCreated", "TicketUpdated"}


def test_the_publishing_worker_delivers_its_own_events_once() -> None:
    """Without Redis the bus is in-process; an event reaches each listener exactly once."""
    got: list[str] = []

    async def scenario() -> None:
        bus = EventBus(redis_url=None)
        bus.add_listener(lambda e: got.append(e.id))
        task = asyncio.create_task(bus.run())
        await asyncio.wait_for(bus.subscribed.wait(), 5)
        event = Event(
            id="e1",
            type="TicketUpdated",
            aggregate_type="ticket",
            aggregate_id="t1",
            aggregate_version=2,
            payload={"id": "t1", "userId": "u1"},
            created_at=utcnow(),
        )
        await asyncio.to_thread(outbox.dispatch, [event])
        # A later event on the same path: once it is here, a second copy of e1 would be too.
        later = dataclasses.replace(event, id="e2", aggregate_version=3)
        await asyncio.to_thread(outbox.dispatch, [later])
        await wait_until_async(lambda: "e2" in got, 5, "the later event delivered")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert got == ["e1", "e2"]


def test_the_unread_signal_reaches_the_other_worker_for_that_user_only() -> None:
    """The live bell across workers: the notifier's worker publishes the signal on the bus;
    the worker holding the user's socket gets it once, as that user's topic only."""
    if not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set (CI sets it)")
    from ticketing_app import live

    channel = f"ticketing:test-events:{uuid.uuid4().hex[:8]}"
    here: list[Event] = []
    there: list[Event] = []

    async def scenario() -> None:
        notifier_worker = EventBus(redis_url=TEST_REDIS_URL, channel=channel)
        socket_worker = EventBus(redis_url=TEST_REDIS_URL, channel=channel)
        notifier_worker.add_listener(here.append)
        socket_worker.add_listener(there.append)
        tasks = [asyncio.create_task(b.run()) for b in (notifier_worker, socket_worker)]
        try:
            for bus in (notifier_worker, socket_worker):
                await asyncio.wait_for(bus.subscribed.wait(), 10)
            # From a worker thread, as the notifier's after-commit callback runs.
            await asyncio.to_thread(notifier_worker.publish, live.unread_changed_event("u-1"))
            await wait_until_async(lambda: len(there) >= 1, 10, "the signal on the other worker")
            await asyncio.sleep(0.2)  # a second copy would be here by now
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
    assert len(here) == len(there) == 1
    assert live.topics_for(there[0]) == {live.notifications_topic("u-1")}
