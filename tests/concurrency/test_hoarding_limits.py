"""Hoarding limits are exact under concurrency (SPEC §9): one buyer, 20 threads reserving 20
different tickets at once, 20 rounds, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from concurrency_helpers import NOW, reserve_call, run_together

from tests.support import World
from ticketing_app.db import write_session
from ticketing_app.services import events, tickets
from ticketing_app.settings import reset_settings

ROUNDS = 20
THREADS = 20


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def set_limits(holds: int, per_event: int) -> None:
        monkeypatch.setenv("TICKETING_MAX_ACTIVE_ORDERS", str(holds))
        monkeypatch.setenv("TICKETING_MAX_TICKETS_PER_EVENT", str(per_event))
        reset_settings()

    yield set_limits
    monkeypatch.undo()
    reset_settings()


def event_tickets(url: str, seller: str, n: int, name: str) -> list[str]:
    with write_session(url) as db:
        event_id = events.create_event(
            db,
            user_id=seller,
            name=name,
            venue="Arena",
            city="Oslo",
            starts_at=(NOW + timedelta(days=2)).isoformat(),
            now=NOW,
        ).event.id
    made = []
    for _ in range(n):
        with write_session(url) as db:
            made.append(
                tickets.create_ticket(
                    db, seller_id=seller, title="Seat", price=30, now=NOW, event_id=event_id
                ).id
            )
    return made


def test_one_buyer_twenty_threads_get_exactly_the_hold_limit(db_url: str, limits) -> None:
    limits(holds=3, per_event=0)
    world = World(db_url, now=NOW)
    for _ in range(ROUNDS):
        sellers = [world.user() for _ in range(2)]  # listing limits stay out of it
        buyer = world.user().id
        wanted = [world.ticket(sellers[i % 2]).id for i in range(THREADS)]
        outcomes = run_together([reserve_call(db_url, buyer, t) for t in wanted])
        won = [o for o in outcomes if o[0] == "ok"]
        assert len(won) == 3, outcomes
        assert all(
            o == ("refused", o[1]) and "at most 3 reservations at once" in o[1]
            for o in outcomes
            if o[0] != "ok"
        ), outcomes


def test_one_buyer_twenty_threads_get_exactly_the_event_limit(db_url: str, limits) -> None:
    limits(holds=0, per_event=8)
    world = World(db_url, now=NOW)
    for round_ in range(ROUNDS):
        seller, buyer = world.user().id, world.user().id
        wanted = event_tickets(db_url, seller, THREADS, f"Show {round_}")
        outcomes = run_together([reserve_call(db_url, buyer, t) for t in wanted])
        won = [o for o in outcomes if o[0] == "ok"]
        assert len(won) == 8, outcomes
        refused = [o[1] for o in outcomes if o[0] != "ok"]
        assert all("at most 8 tickets for one event" in m for m in refused), refused
