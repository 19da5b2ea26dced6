"""SPEC §9 on the reservation side: a hold never outlives its event, nothing is bought for an
event that started or was cancelled, and one buyer cannot hoard (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ticketing_app.errors import RuleViolation
from ticketing_app.models import Event, EventStatus
from ticketing_app.services import events, orders, tickets

WINDOW = timedelta(seconds=900)


@pytest.fixture
def make_event(new_session, seller, now):
    def make(starts_in: timedelta = timedelta(days=3), name: str = "Radiohead") -> str:
        with new_session() as db:
            created = events.create_event(
                db,
                user_id=seller.id,
                name=name,
                venue="Arena",
                city="Berlin",
                starts_at=(now + starts_in).isoformat(),
                now=now,
            )
        return created.event.id

    return make


@pytest.fixture
def event_ticket(new_session, seller, now):
    def make(event_id: str, price: int = 20) -> str:
        with new_session() as db:
            return tickets.create_ticket(
                db, seller_id=seller.id, title="Floor", price=price, now=now, event_id=event_id
            ).id

    return make


def test_a_hold_never_outlives_its_event(make_event, event_ticket, buyer, reserve, now):
    soon = make_event(starts_in=timedelta(minutes=5))
    held = reserve(buyer, event_ticket(soon)).order
    assert held.expires_at == now + timedelta(minutes=5)  # the start, not the 15-minute window
    later = make_event(starts_in=timedelta(days=1), name="Later show")
    assert reserve(buyer, event_ticket(later)).order.expires_at == now + WINDOW


def test_nothing_is_bought_once_the_event_started(
    make_event, event_ticket, buyer, reserve, now, rows
):
    show = make_event(starts_in=timedelta(minutes=5))
    ticket_id = event_ticket(show)
    with pytest.raises(RuleViolation) as refused:
        reserve(buyer, ticket_id, at=now + timedelta(minutes=5))
    assert refused.value.message == "This event has already started"
    assert rows.ticket(ticket_id).status == "available"


def test_nothing_is_bought_for_a_cancelled_event(make_event, event_ticket, buyer, reserve, rows):
    show = make_event()
    ticket_id = event_ticket(show)
    rows.execute(sa.update(Event).where(Event.id == show).values(status=EventStatus.CANCELLED))
    with pytest.raises(RuleViolation) as refused:
        reserve(buyer, ticket_id)
    assert refused.value.message == "This event was cancelled"
    assert rows.ticket(ticket_id).status == "available"


def test_at_most_three_holds_at_once(make_ticket, buyer, reserve, new_session, now):
    held = [reserve(buyer, make_ticket().id).order for _ in range(3)]
    fourth = make_ticket()
    with pytest.raises(RuleViolation) as refused:
        reserve(buyer, fourth.id)
    assert "at most 3 reservations at once" in refused.value.message
    with new_session() as db:  # one ended: room for another
        orders.cancel_order(db, user_id=buyer.id, order_id=held[0].id, now=now)
    assert reserve(buyer, fourth.id).order.ticket_id == fourth.id
    # A hold past due no longer counts, even before the sweep marks it expired.
    fifth = make_ticket()
    assert reserve(buyer, fifth.id, at=now + WINDOW).order.ticket_id == fifth.id


def test_at_most_eight_tickets_per_event_held_or_bought(
    make_event, event_ticket, buyer, reserve, rows, new_session, now
):
    show = make_event()
    placed = []
    for _ in range(8):  # bought (made complete here) so the hold limit stays out of it
        order = reserve(buyer, event_ticket(show)).order
        rows.execute(sa.text(f"UPDATE orders SET status='complete' WHERE id='{order.id}'"))
        rows.execute(
            sa.text(f"UPDATE tickets SET status='sold', order_id=NULL WHERE id='{order.ticket_id}'")
        )
        placed.append(order)
    with pytest.raises(RuleViolation) as refused:
        reserve(buyer, event_ticket(show))
    assert "at most 8 tickets for one event" in refused.value.message
    other = make_event(name="Another show")  # another event is not limited by this one
    assert reserve(buyer, event_ticket(other)).order.status == "created"
