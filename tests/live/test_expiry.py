"""Expiry on time: the APScheduler timers and sweep, run in-process against SQLite and PostgreSQL.

The window is 2 s (TICKETING_LOCK_SECONDS=2). A user notices: an unpaid order flips to expired
and the ticket is for sale again within 1 s of `expires_at`; orders that fell due while no
scheduler ran are expired right after start; two schedulers at once never expire twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from live_helpers import LOCK_SECONDS

from tests.support import World, wait_until
from ticketing_app import outbox
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.models import utcnow

SLOT_JOB = "expire-at:"  # the id prefix of ExpiryScheduler's timer jobs


class WatchedScheduler(ExpiryScheduler):
    """The real scheduler, plus what a test needs to know that it has had its chance to expire
    something: the sweeps it finished, and whether any of its timers is waiting or running."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sweeps: list[tuple[datetime, list[str]]] = []  # (began, ids it expired)

    def sweep(self) -> list[str]:
        began = utcnow()
        expired = super().sweep()
        self.sweeps.append((began, expired))
        return expired

    def swept_since(self, moment: datetime) -> list[list[str]]:
        """What each finished sweep that began after `moment` expired. One sweep runs at a time
        (max_instances=1), so any sweep begun before it has finished too."""
        return [expired for began, expired in list(self.sweeps) if began > moment]

    def timers_done(self) -> bool:
        """No timer waiting or running: each has fired and finished, or was removed."""
        aps = self._scheduler
        assert aps is not None
        if any(job.id.startswith(SLOT_JOB) for job in aps.get_jobs()):
            return False
        # APScheduler counts a job's runs in progress from before it leaves the job store
        # (submission) until it has finished, under the executor's lock.
        executor = aps._lookup_executor("default")
        with executor._lock:
            running = list(executor._instances)
        return not any(job_id.startswith(SLOT_JOB) for job_id in running)


def expired_ids(world: World) -> list[str]:
    """The orders of the stored OrderExpired events, in commit order."""
    return [e.aggregate_id for e in world.events(type="OrderExpired")]


@pytest.fixture
def start_scheduler(db_url: str) -> Iterator:
    """Start schedulers fed by this process's committed events; stopped after the test."""
    started: list[tuple[WatchedScheduler, object]] = []

    def start(sweep_seconds: float = 60.0) -> WatchedScheduler:
        scheduler = WatchedScheduler(db_url=db_url, sweep_seconds=sweep_seconds)
        scheduler.start()
        started.append((scheduler, outbox.subscribe(scheduler.on_event)))
        return scheduler

    yield start
    for scheduler, unsubscribe in started:
        unsubscribe()  # type: ignore[operator]
        scheduler.stop()


def test_unpaid_order_expires_within_a_second_of_its_deadline(
    world: World, start_scheduler
) -> None:
    seller, buyer = world.user(), world.user()
    ticket = world.ticket(seller)
    start_scheduler(sweep_seconds=60)  # the sweep stays out of it: this is the timer's job
    order = world.order(buyer, ticket)
    assert order.expires_at - order.created_at == timedelta(seconds=LOCK_SECONDS)

    wait_until(lambda: world.get_order(order.id).status == "expired", timeout=LOCK_SECONDS + 2)
    seen_at = utcnow()
    assert seen_at >= order.expires_at
    assert seen_at - order.expires_at < timedelta(seconds=1)
    back = world.get_ticket(ticket.id)
    assert (back.status, back.order_id) == ("available", None)
    assert expired_ids(world) == [order.id]


def test_paid_or_cancelled_orders_are_left_alone(world: World, start_scheduler) -> None:
    seller, buyer = world.user(), world.user()
    kept, cancelled = world.ticket(seller), world.ticket(seller)
    scheduler = start_scheduler(sweep_seconds=0.5)
    order = world.order(buyer, cancelled)
    world.cancel_order(buyer, order)
    # Past due, and the scheduler has had its chance: a sweep begun after the deadline has
    # finished, and no timer (had the cancel left one) is waiting or running.
    wait_until(
        lambda: scheduler.swept_since(order.expires_at) and scheduler.timers_done(),
        timeout=LOCK_SECONDS + 3,
        message="a sweep after the deadline, every timer done",
    )
    assert world.get_order(order.id).status == "cancelled"
    assert expired_ids(world) == []
    assert world.get_ticket(kept.id).status == "available"


def test_orders_due_while_stopped_expire_right_after_start(world: World, start_scheduler) -> None:
    seller, buyer = world.user(), world.user()
    # Reserved "10 s ago" with a 2 s window: due while no scheduler was running.
    overdue = [world.order(buyer, world.ticket(seller), at=utcnow() - timedelta(seconds=10))]
    overdue.append(world.order(buyer, world.ticket(seller), at=utcnow() - timedelta(seconds=5)))
    # Reserved just now, before the scheduler starts: its timer comes from the start-up scan.
    pending = world.order(buyer, world.ticket(seller))
    assert world.active_orders() == 3

    started = utcnow()
    start_scheduler(sweep_seconds=60)
    wait_until(lambda: all(world.get_order(o.id).status == "expired" for o in overdue), timeout=3)
    assert utcnow() - started < timedelta(seconds=3)
    wait_until(lambda: world.get_order(pending.id).status == "expired", timeout=LOCK_SECONDS + 2)
    assert utcnow() - pending.expires_at < timedelta(seconds=1)
    for o in overdue:
        assert world.get_ticket(o.ticket_id).status == "available"


def test_the_sweep_catches_orders_without_a_timer(world: World, start_scheduler) -> None:
    """An order whose timer is gone (its event never arrived here): the sweep gets it."""
    seller, buyer = world.user(), world.user()
    scheduler = start_scheduler(sweep_seconds=0.5)
    order = world.order(buyer, world.ticket(seller))
    scheduler.unschedule(order.id)
    wait_until(lambda: world.get_order(order.id).status == "expired", timeout=LOCK_SECONDS + 2)
    assert utcnow() - order.expires_at < timedelta(seconds=1)


def test_two_schedulers_at_once_expire_each_order_exactly_once(
    world: World, start_scheduler
) -> None:
    seller = world.user()
    buyers = [world.user() for _ in range(4)]  # at most 3 holds each
    # Both have timers for every order and sweep five times a second: they race on purpose.
    schedulers = [start_scheduler(sweep_seconds=0.2), start_scheduler(sweep_seconds=0.2)]
    placed = [world.order(buyers[i % 3], world.ticket(seller, f"T{i}")) for i in range(8)]
    # And two overdue ones that both start-up scans and both sweeps find at once.
    placed += [
        world.order(buyers[3], world.ticket(seller), at=utcnow() - timedelta(seconds=5))
        for _ in range(2)
    ]
    ids = {o.id for o in placed}
    wait_until(lambda: world.active_orders() == 0, timeout=LOCK_SECONDS + 3)
    all_expired = utcnow()
    # Both schedulers' late attempts have run: each has swept since, and none of their timers
    # is still waiting or running; whatever they did is in the database now.
    wait_until(
        lambda: all(s.swept_since(all_expired) and s.timers_done() for s in schedulers),
        timeout=15,
        message="both schedulers swept after the last expiry, every timer done",
    )
    counts = Counter(expired_ids(world))
    assert set(counts) == ids
    assert set(counts.values()) == {1}
    for o in placed:
        assert world.get_ticket(o.ticket_id).status == "available"


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
