"""Moving an event's start keeps SPEC §9's rules with real timers (both databases): the
event-start timer re-arms for the new start and withdraws the listings then, and a hold capped
at the new start is expired by its timer there (OrderUpdated re-sets it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from admin_helpers import event_ticket, make_event, make_operator

from tests.support import World, wait_until
from ticketing_app import outbox
from ticketing_app.db import write_session
from ticketing_app.jobs.event_start import EventStartScheduler
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.services import admin_events


@pytest.fixture
def live_world(db_url: str) -> World:
    return World(db_url)  # the real clock: the timers run on it


@pytest.fixture
def timers(db_url: str) -> Iterator[tuple[EventStartScheduler, ExpiryScheduler]]:
    starts = EventStartScheduler(db_url=db_url, sweep_seconds=3600)
    expiry = ExpiryScheduler(db_url=db_url, sweep_seconds=3600)  # only timers, no sweep help
    starts.start()
    expiry.start()
    unsubscribe = [outbox.subscribe(starts.on_event), outbox.subscribe(expiry.on_event)]
    yield starts, expiry
    for stop in unsubscribe:
        stop()
    starts.stop()
    expiry.stop()


def test_a_start_moved_earlier_rearms_the_timer_and_caps_holds(
    live_world: World, timers: tuple[EventStartScheduler, ExpiryScheduler]
) -> None:
    world = live_world
    starts, _expiry = timers
    operator = make_operator(world)
    event = make_event(world, days=30)
    listed = event_ticket(world, world.user(), event)
    hold = world.order(world.user(), event_ticket(world, world.user(), event))
    starts.arm()
    assert starts.armed_at == event.starts_at

    new_start = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    with write_session(world.url) as db:
        admin_events.edit_event(
            db,
            operator=operator,
            event_id=event.id,
            reason="Brought forward",
            starts_at=new_start.isoformat(),
            now=datetime.now(UTC),
        )
    wait_until(lambda: starts.armed_at == new_start, timeout=5, message="the timer to re-arm")
    assert world.get_order(hold).expires_at == new_start
    wait_until(
        lambda: world.get_ticket(listed).status == "cancelled",
        timeout=15,
        message="the listing to leave the market at the new start",
    )
    wait_until(
        lambda: world.get_order(hold).status == "expired",
        timeout=15,
        message="the capped hold to expire at the new start",
    )
    assert datetime.now(UTC) >= new_start
