"""Several workers: one active scheduler at a time (the lease), takeover when the holder dies,
and events committed by another process reaching this one over Redis (the event bus)."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from live_helpers import LOCK_SECONDS, Market, utcnow

from ticketing_app import outbox
from ticketing_app.jobs import run_scheduler
from ticketing_app.jobs.bus import EventBus
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.lease import make_lease
from ticketing_app.outbox import Event

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture(params=["database", "redis"])
def lease_backend(request: pytest.FixtureRequest) -> str:
    """'database': PostgreSQL advisory lock or file lock (SQLite); 'redis': SET NX PX."""
    if request.param == "redis" and not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set (CI sets it)")
    return request.param


async def _poll(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
    return loop.time() - start


def test_one_scheduler_active_and_a_dead_holder_is_replaced(
    market: Market, db_url: str, lease_backend: str
) -> None:
    name = f"expiry-test-{uuid.uuid4().hex[:8]}"
    redis_url = TEST_REDIS_URL if lease_backend == "redis" else ""
    ttl = 1.5
    seller, buyer = market.user(), market.user()

    async def scenario() -> None:
        first = ExpiryScheduler(db_url=db_url, sweep_seconds=60)
        second = ExpiryScheduler(db_url=db_url, sweep_seconds=60)
        unsubscribe = [outbox.subscribe(s.on_event) for s in (first, second)]
        lease_a = make_lease(name, ttl_seconds=ttl, redis_url=redis_url, database_url=db_url)
        lease_b = make_lease(name, ttl_seconds=ttl, redis_url=redis_url, database_url=db_url)
        task_a = asyncio.create_task(run_scheduler(first, lease=lease_a, poll_seconds=0.2))
        await _poll(lambda: first.running, timeout=3)
        task_b = asyncio.create_task(run_scheduler(second, lease=lease_b, poll_seconds=0.2))
        await asyncio.sleep(1.0)
        assert first.running and not second.running
        try:
            if lease_backend == "redis":
                # Die like kill -9: no release, the key has to time out.
                lease_a.release = lambda: None  # type: ignore[method-assign]
            task_a.cancel()
            await asyncio.gather(task_a, return_exceptions=True)
            took = await _poll(lambda: second.running, timeout=ttl + 2)
            assert took < ttl + 1.0
            # The new holder expires on time an order created after the takeover.
            order = await asyncio.to_thread(market.reserve, buyer, market.ticket(seller))
            await _poll(lambda: market.order(order.id).status == "expired", LOCK_SECONDS + 2)
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
        await asyncio.sleep(0.3)  # let the publisher send
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL not set (CI sets it)")
def test_an_order_made_on_another_worker_reaches_this_scheduler_and_expires_on_time(
    market: Market, db_url: str
) -> None:
    channel = f"ticketing:test-events:{uuid.uuid4().hex[:8]}"
    seller, buyer = market.user(), market.user()
    ticket = market.ticket(seller)
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
            )
            assert await asyncio.wait_for(worker.wait(), 60) == 0
            await _poll(lambda: any(e.type == "OrderCreated" for e in received), timeout=5)
            created = next(e for e in received if e.type == "OrderCreated")
            assert created.payload["ticketId"] == ticket.id
            order_id = created.aggregate_id
            await _poll(lambda: market.order(order_id).status == "expired", LOCK_SECONDS + 3)
            assert utcnow() - market.order(order_id).expires_at < timedelta(seconds=1)
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
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert got == ["e1"]
