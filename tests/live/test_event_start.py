"""At its start an event's unsold listings leave the market (SPEC §9), run in-process against
SQLite and PostgreSQL: on time by the timer, after a restart by the sweep, once even with two
schedulers at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.support import World, wait_until
from ticketing_app import outbox
from ticketing_app.db import write_session
from ticketing_app.jobs.event_start import EventStartScheduler
from ticketing_app.models import Event, Ticket, User, utcnow
from ticketing_app.services import event_start, events, tickets


def make_event(world: World, user: User, starts_at: datetime, name: str = "Gig") -> Event:
    with write_session(world.url) as db:
        return events.create_event(
            db,
            user_id=user.id,
            name=name,
            venue="Hall",
            city="Town",
            starts_at=starts_at.isoformat(),
            now=utcnow(),
        ).event


def list_for(
    world: World, user: User, event: Event, price: int = 20, at: datetime | None = None
) -> Ticket:
    """List a ticket for `event`, as of `at` (default now): a test that lists many before a
    start a moment away passes the time it began, so a slow machine cannot miss the start."""
    with write_session(world.url) as db:
        return tickets.create_ticket(
            db,
            seller_id=user.id,
            title="Seat",
            price=price,
            event_id=event.id,
            now=at or utcnow(),
        )


@pytest.fixture
def start_scheduler(db_url: str) -> Iterator:
    started: list[tuple[EventStartScheduler, object]] = []

    def start(sweep_seconds: float = 60.0) -> EventStartScheduler:
        scheduler = EventStartScheduler(db_url=db_url, sweep_seconds=sweep_seconds)
        scheduler.start()
        started.append((scheduler, outbox.subscribe(scheduler.on_event)))
        return scheduler

    yield start
    for scheduler, unsubscribe in started:
        unsubscribe()  # type: ignore[operator]
        scheduler.stop()


def test_listings_leave_the_market_within_a_second_of_the_start(
    world: World, start_scheduler
) -> None:
    seller = world.user()
    scheduler = start_scheduler(sweep_seconds=60)  # the sweep ran once at start: the timer's job
    event = make_event(world, seller, utcnow() + timedelta(seconds=1.5))
    wait_until(  # armed by the committed EventCreated
        lambda: scheduler.armed_at == event.starts_at, timeout=1, message="timer armed"
    )
    listed = [list_for(world, seller, event, price) for price in (20, 30)]
    plain = world.ticket(seller)

    wait_until(lambda: world.get_ticket(listed[-1].id).status == "cancelled", timeout=4)
    seen_at = utcnow()
    assert seen_at >= event.starts_at
    assert seen_at - event.starts_at < timedelta(seconds=1)
    for ticket in listed:
        row = world.get_ticket(ticket.id)
        assert (row.status, row.withdrawn_reason) == ("cancelled", event_start.STARTED_REASON)
    assert world.get_ticket(plain.id).status == "available"
    assert sorted([e.aggregate_id for e in world.events(type="TicketCancelled")]) == sorted(
        t.id for t in listed
    )


def test_a_start_missed_while_down_is_swept_after_restart(world: World, start_scheduler) -> None:
    seller = world.user()
    event = make_event(world, seller, utcnow() + timedelta(hours=1))
    listed = list_for(world, seller, event)
    # The backend was down at the start: it passed with nobody watching.
    with write_session(world.url) as db, db.begin():
        db.exec(
            sa.update(Event)
            .where(Event.id == event.id)
            .values(starts_at=utcnow() - timedelta(minutes=5))
        )
    assert world.get_ticket(listed.id).status == "available"
    start_scheduler(sweep_seconds=60)  # the restart: its first sweep runs at once
    wait_until(lambda: world.get_ticket(listed.id).status == "cancelled", timeout=3)
    assert world.get_ticket(listed.id).withdrawn_reason == event_start.STARTED_REASON


def test_timer_follows_the_next_start(world: World, start_scheduler) -> None:
    seller = world.user()
    later = make_event(world, seller, utcnow() + timedelta(hours=2), name="Later")
    scheduler = start_scheduler()
    assert scheduler.armed_at == later.starts_at
    sooner = make_event(world, seller, utcnow() + timedelta(hours=1), name="Sooner")
    assert scheduler.armed_at == sooner.starts_at
    make_event(world, seller, utcnow() + timedelta(hours=3), name="Last")
    assert scheduler.armed_at == sooner.starts_at


def test_two_schedulers_withdraw_each_listing_once(world: World, start_scheduler) -> None:
    seller = world.user()
    began = utcnow()
    event = make_event(world, seller, began + timedelta(seconds=1.5))
    listed = [list_for(world, seller, event, 10 + i, at=began) for i in range(20)]
    start_scheduler(sweep_seconds=0.2)
    start_scheduler(sweep_seconds=0.3)
    wait_until(lambda: all(world.get_ticket(t.id).status == "cancelled" for t in listed), timeout=5)
    counts = Counter([e.aggregate_id for e in world.events(type="TicketCancelled")])
    assert counts == Counter({t.id: 1 for t in listed})
