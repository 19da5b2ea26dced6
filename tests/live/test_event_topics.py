"""A ticket moved from one event to another updates both events' pages (and the front door)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing_app import live, outbox
from ticketing_app.db import write_session
from ticketing_app.outbox import Event
from ticketing_app.services import auth, events, tickets

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_moving_a_ticket_to_another_event_reaches_both_event_pages(db_url: str) -> None:
    with write_session(db_url) as db:
        seller, _ = auth.signup(db, email="mover@example.com", password="password123", now=NOW)

    def show(name: str) -> str:
        with write_session(db_url) as db:
            return events.create_event(
                db,
                user_id=seller.id,
                name=name,
                venue="Hall",
                city="Leeds",
                starts_at=(NOW + timedelta(days=3)).isoformat(),
                now=NOW,
            ).event.id

    first, second = show("First"), show("Second")
    with write_session(db_url) as db:
        ticket = tickets.create_ticket(
            db, seller_id=seller.id, title="Seat", price=20, now=NOW, event_id=first
        )
    seen: list[Event] = []
    unsubscribe = outbox.subscribe(seen.append)
    try:
        with write_session(db_url) as db:
            tickets.update_ticket(
                db,
                user_id=seller.id,
                ticket_id=ticket.id,
                title="Seat",
                price=20,
                event_id=second,
                now=NOW,
            )
        with write_session(db_url) as db:  # a plain repricing names only its own event
            tickets.update_ticket(
                db, user_id=seller.id, ticket_id=ticket.id, title="Seat", price=25, now=NOW
            )
    finally:
        unsubscribe()
    moved, repriced = (live.topics_for(e) for e in seen)
    assert {live.event_topic(first), live.event_topic(second), live.EVENTS} <= moved
    assert live.event_topic(second) in repriced and live.event_topic(first) not in repriced
