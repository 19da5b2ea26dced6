"""Expiry on time: the APScheduler timers and sweep, run in-process against SQLite and PostgreSQL.

The window is 2 s (TICKETING_LOCK_SECONDS=2). A user notices: an unpaid order flips to expired
and the ticket is for sale again within 1 s of `expires_at`; orders that fell due while no
scheduler ran are expired right after start; two schedulers at once never expire twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from live_helpers import LOCK_SECONDS, Market, utcnow, wait_until

from ticketing_app import outbox
from ticketing_app.jobs.expiry import ExpiryScheduler


@pytest.fixture
def start_scheduler(db_url: str) -> Iterator:
    """Start ExpirySchedulers fed by this process's committed events; stopped after the test."""
    started: list[tuple[ExpiryScheduler, object]] = []

    def start(sweep_seconds: float = 60.0) -> ExpiryScheduler:
        scheduler = ExpiryScheduler(db_url=db_url, sweep_seconds=sweep_seconds)
        scheduler.start()
        started.append((scheduler, outbox.subscribe(scheduler.on_event)))
        return scheduler

    yield start
    for scheduler, unsubscribe in started:
        unsubscribe()  # type: ignore[operator]
        scheduler.stop()


def test_unpaid_order_expires_within_a_second_of_its_deadline(
    market: Market, start_scheduler
) -> None:
    seller, buyer = market.user(), market.user()
    ticket = market.ticket(seller)
    start_scheduler(sweep_seconds=60)  # the sweep stays out of it: this is the timer's job
    order = market.reserve(buyer, ticket)
    assert order.expires_at - order.created_at == timedelta(seconds=LOCK_SECONDS)

    wait_until(lambda: market.order(order.id).status == "expired", timeout=LOCK_SECONDS + 2)
    seen_at = utcnow()
    assert seen_at >= order.expires_at
    assert seen_at - order.expires_at < timedelta(seconds=1)
    back = market.ticket_row(ticket.id)
    assert (back.status, back.order_id) == ("available", None)
    assert market.events("OrderExpired") == [order.id]


def test_paid_or_cancelled_orders_are_left_alone(market: Market, start_scheduler) -> None:
    from ticketing_app.db import write_session
    from ticketing_app.services import orders

    seller, buyer = market.user(), market.user()
    kept, cancelled = market.ticket(seller), market.ticket(seller)
    start_scheduler(sweep_seconds=0.5)
    order = market.reserve(buyer, cancelled)
    with write_session(market.url) as db:
        orders.cancel_order(db, user_id=buyer.id, order_id=order.id, now=utcnow())
    time.sleep(max(0.0, (order.expires_at - utcnow()).total_seconds()) + 1.0)  # past due
    assert market.order(order.id).status == "cancelled"
    assert market.events("OrderExpired") == []
    assert market.ticket_row(kept.id).status == "available"


def test_orders_due_while_stopped_expire_right_after_start(market: Market, start_scheduler) -> None:
    seller, buyer = market.user(), market.user()
    # Reserved "10 s ago" with a 2 s window: due while no scheduler was running.
    overdue = [market.reserve(buyer, market.ticket(seller), at=utcnow() - timedelta(seconds=10))]
    overdue.append(market.reserve(buyer, market.ticket(seller), at=utcnow() - timedelta(seconds=5)))
    # Reserved just now, before the scheduler starts: its timer comes from the start-up scan.
    pending = market.reserve(buyer, market.ticket(seller))
    assert market.active_count() == 3

    started = utcnow()
    start_scheduler(sweep_seconds=60)
    wait_until(lambda: all(market.order(o.id).status == "expired" for o in overdue), timeout=3)
    assert utcnow() - started < timedelta(seconds=3)
    wait_until(lambda: market.order(pending.id).status == "expired", timeout=LOCK_SECONDS + 2)
    assert utcnow() - pending.expires_at < timedelta(seconds=1)
    for o in overdue:
        assert market.ticket_row(o.ticket_id).status == "available"


def test_the_sweep_catches_orders_without_a_timer(market: Market, start_scheduler) -> None:
    """An order whose timer is gone (its event never arrived here): the sweep gets it."""
    seller, buyer = market.user(), market.user()
    scheduler = start_scheduler(sweep_seconds=0.5)
    order = market.reserve(buyer, market.ticket(seller))
    scheduler.unschedule(order.id)
    wait_until(lambda: market.order(order.id).status == "expired", timeout=LOCK_SECONDS + 2)
    assert utcnow() - order.expires_at < timedelta(seconds=1)


def test_two_schedulers_at_once_expire_each_order_exactly_once(
    market: Market, start_scheduler
) -> None:
    seller = market.user()
    buyers = [market.user() for _ in range(3)]
    # Both have timers for every order and sweep five times a second: they race on purpose.
    start_scheduler(sweep_seconds=0.2)
    start_scheduler(sweep_seconds=0.2)
    placed = [market.reserve(buyers[i % 3], market.ticket(seller, f"T{i}")) for i in range(8)]
    # And two overdue ones that both start-up scans and both sweeps find at once.
    placed += [
        market.reserve(buyers[0], market.ticket(seller), at=utcnow() - timedelta(seconds=5))
        for _ in range(2)
    ]
    ids = {o.id for o in placed}
    wait_until(lambda: market.active_count() == 0, timeout=LOCK_SECONDS + 3)
    time.sleep(0.6)  # let both schedulers' late attempts run and find nothing to do
    counts = Counter(market.events("OrderExpired"))
    assert set(counts) == ids
    assert set(counts.values()) == {1}
    for o in placed:
        assert market.ticket_row(o.ticket_id).status == "available"


def test_timers_due_together_share_one_job_per_10_ms_slot(start_scheduler) -> None:
    """1,000 orders due in one second must not mean 1,000 write transactions: deadlines are
    grouped into 10 ms slots, one job each; forgetting every order removes its slot's job."""
    scheduler = start_scheduler(sweep_seconds=60)
    base = utcnow().replace(microsecond=0) + timedelta(seconds=30)
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(100)]
    for i, order_id in enumerate(ids):  # 100 deadlines over 100 ms
        scheduler.schedule(order_id, base + timedelta(milliseconds=i, microseconds=500))

    def slot_jobs() -> list:
        return [j for j in scheduler._scheduler.get_jobs() if j.id.startswith("expire-at:")]

    assert len(slot_jobs()) == 10
    assert all(j.next_run_time >= base for j in slot_jobs())
    for order_id in ids[:95]:
        scheduler.unschedule(order_id)
    assert len(slot_jobs()) == 1  # the last slot still has 5 orders
    for order_id in ids[95:]:
        scheduler.unschedule(order_id)
    assert slot_jobs() == []
