"""Reservation abuse (issue: "Abuse and edges"): a hold cannot be renewed forever by its
buyer, and nobody reserves at a price they did not see. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ticketing_app.errors import RuleViolation, ValidationError
from ticketing_app.models import Order, Ticket
from ticketing_app.services import orders, tickets
from ticketing_app.settings import reset_settings

WINDOW = timedelta(seconds=900)


def order_count(new_session, ticket_id: str) -> int:
    with new_session() as db:
        return db.exec(
            sa.select(sa.func.count()).select_from(Order).where(Order.ticket_id == ticket_id)
        ).one()[0]


def test_buyer_who_cancels_waits_the_cooldown_to_hold_it_again(
    make_ticket, buyer, make_user, reserve, new_session, now, rows
):
    ticket = make_ticket()
    first = reserve(buyer, ticket.id).order
    with new_session() as db:
        orders.cancel_order(db, user_id=buyer.id, order_id=first.id, now=now)
    with pytest.raises(RuleViolation) as refused:
        reserve(buyer, ticket.id, at=now + timedelta(seconds=1))
    assert "ended without payment" in refused.value.message
    assert "again in 15 minutes (at 12:15 UTC)" in refused.value.message
    assert rows.ticket(ticket.id).status == "available"  # refused: nothing held
    assert order_count(new_session, ticket.id) == 1
    # Anyone else may buy it meanwhile; the same buyer may again once the cooldown is over.
    other_ticket = make_ticket()
    with pytest.raises(RuleViolation):
        reserve(buyer, ticket.id, at=now + WINDOW - timedelta(seconds=1))
    assert reserve(buyer, ticket.id, at=now + WINDOW).order.status == "created"
    assert reserve(make_user(), other_ticket.id).order.status == "created"


def test_rereserving_right_at_expiry_does_not_renew_the_hold(
    make_ticket, buyer, make_user, reserve, new_session, now, rows
):
    ticket = make_ticket()
    first = reserve(buyer, ticket.id).order
    due = first.expires_at
    with pytest.raises(RuleViolation) as refused:
        reserve(buyer, ticket.id, at=due)  # the same buyer, the moment the hold runs out
    assert "again in 15 minutes" in refused.value.message
    assert order_count(new_session, ticket.id) == 1
    # Another buyer gets it at that moment (the lapsed hold is expired in their transaction).
    other = make_user()
    won = reserve(other, ticket.id, at=due).order
    assert rows.order(first.id).status == "expired"
    assert rows.ticket(ticket.id).order_id == won.id
    with new_session() as db:  # back on sale a minute later
        orders.cancel_order(db, user_id=other.id, order_id=won.id, now=due + timedelta(minutes=1))
    # The cooldown counts from when the hold ran out, however late it was marked expired.
    with pytest.raises(RuleViolation) as later:
        reserve(buyer, ticket.id, at=due + timedelta(minutes=5))
    assert "again in 10 minutes" in later.value.message


def test_cooldown_setting_zero_turns_it_off(
    make_ticket, buyer, reserve, new_session, now, monkeypatch
):
    monkeypatch.setenv("TICKETING_REHOLD_COOLDOWN_SECONDS", "0")
    reset_settings()
    try:
        ticket = make_ticket()
        first = reserve(buyer, ticket.id).order
        with new_session() as db:
            orders.cancel_order(db, user_id=buyer.id, order_id=first.id, now=now)
        assert reserve(buyer, ticket.id).order.id != first.id
    finally:
        monkeypatch.delenv("TICKETING_REHOLD_COOLDOWN_SECONDS")
        reset_settings()


def test_a_paid_order_is_no_cooldown_for_other_tickets(
    make_ticket, buyer, reserve, new_session, now
):
    """Only this buyer and this ticket: another ticket of the same seller is unaffected."""
    one, two = make_ticket(), make_ticket()
    held = reserve(buyer, one.id).order
    with new_session() as db:
        orders.cancel_order(db, user_id=buyer.id, order_id=held.id, now=now)
    assert reserve(buyer, two.id).order.ticket_id == two.id


def test_price_changed_since_the_buyer_looked_reserves_nothing(
    make_ticket, seller, buyer, new_session, now, rows
):
    ticket = make_ticket(price=10)
    with new_session() as db:
        tickets.update_ticket(
            db, user_id=seller.id, ticket_id=ticket.id, title="Concert", price=99, now=now
        )
    with new_session() as db, pytest.raises(RuleViolation) as refused:
        orders.reserve_ticket(
            db.get_bind(), buyer_id=buyer.id, ticket_id=ticket.id, now=now, expected_price=10
        )
    assert refused.value.field == "expectedPrice"
    assert "now 99.00" in refused.value.message
    held = rows.ticket(ticket.id)
    assert (held.status, held.order_id) == ("available", None)
    assert order_count(new_session, ticket.id) == 0
    with new_session() as db:  # at the price shown now, it goes through
        won = orders.reserve_ticket(
            db.get_bind(), buyer_id=buyer.id, ticket_id=ticket.id, now=now, expected_price="99"
        )
    assert won.order.price_cents == 9900


@pytest.mark.parametrize("bad", ["abc", -1, 0, True, "1.001", [10]])
def test_expected_price_is_checked_like_a_price(make_ticket, buyer, new_session, now, bad):
    ticket = make_ticket(price=10)
    with new_session() as db, pytest.raises(ValidationError) as refused:
        orders.reserve_ticket(
            db.get_bind(), buyer_id=buyer.id, ticket_id=ticket.id, now=now, expected_price=bad
        )
    assert refused.value.field == "expectedPrice"
    assert refused.value.message.startswith("Expected price")
    assert order_count(new_session, ticket.id) == 0
    with new_session() as db:
        assert db.get(Ticket, ticket.id).status == "available"
