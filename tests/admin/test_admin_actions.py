"""Operator actions through the services, on both databases: each with its effects and its
audit row (SPEC §12); refunds at localstripe."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from admin_helpers import (
    as_signed_in,
    audit_rows,
    event_ticket,
    make_event,
    make_operator,
)

from tests.support import PASSWORD, World
from tests.support.stripe import LocalStripe
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import Forbidden, NotAuthenticated, RuleViolation, ValidationError
from ticketing_app.models import AuthSession, Event
from ticketing_app.services import (
    admin,
    admin_events,
    auth,
    delivery,
    ledger,
    payment_upkeep,
    payouts,
)
from ticketing_app.services.settlement import refund_notice


def seller_balance(world: World, seller_id: str) -> ledger.Balance:
    with read_session(world.url) as db:
        return payouts.get_balance(db, seller_id=seller_id)


def _sessions_live(world: World, user_id: str) -> int:
    with read_session(world.url) as db:
        rows = db.query(AuthSession).filter(
            AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
        )
        return rows.count()


def test_suspend_revokes_sessions_withdraws_listings_cancels_holds_and_blocks_signin(
    world: World,
) -> None:
    operator = make_operator(world)
    seller = world.user()
    listed = world.ticket(seller)
    held_by_other = world.ticket(seller)
    others_hold = world.order(world.user(), held_by_other)
    own_hold = world.order(seller, world.ticket(world.user()))
    with write_session(world.url) as db:
        auth.signin(db, email=seller.email, password=PASSWORD, now=world.now)
    assert _sessions_live(world, seller.id) == 2

    with write_session(world.url) as db:
        user = admin.suspend_user(
            db, operator=operator, user_id=seller.id, reason="Fake tickets", now=world.now
        )

    assert user.suspended_at == world.now
    assert _sessions_live(world, seller.id) == 0
    for ticket in (listed, held_by_other):
        after = world.get_ticket(ticket)
        assert after.status == "cancelled"
        assert after.withdrawn_reason == "Your account was suspended: Fake tickets"
    assert world.get_order(others_hold).status == "cancelled"
    assert world.get_order(own_hold).status == "cancelled"
    assert world.get_ticket(own_hold.ticket_id).status == "available"  # someone else's, back
    [row] = audit_rows(world, action="user.suspend")
    assert (row.operator_id, row.target_id, row.reason) == (operator.id, seller.id, "Fake tickets")
    assert json.loads(row.details)["reservationsCancelled"] == 1
    assert world.event_types(seller.id)[-1] == "UserUpdated"

    with write_session(world.url) as db, pytest.raises(Forbidden) as refused:
        auth.signin(db, email=seller.email, password=PASSWORD, now=world.now)
    assert "suspended" in refused.value.message
    # A wrong password, and an unknown email, still get the generic answer (no enumeration).
    for email, password in ((seller.email, "wrong password"), ("nobody@example.com", PASSWORD)):
        with write_session(world.url) as db, pytest.raises(ValidationError) as generic:
            auth.signin(db, email=email, password=password, now=world.now)
        assert generic.value.message == auth.INVALID_CREDENTIALS

    with write_session(world.url) as db, pytest.raises(RuleViolation):
        admin.suspend_user(db, operator=operator, user_id=seller.id, reason="x", now=world.now)
    with write_session(world.url) as db:
        back = admin.reinstate_user(
            db, operator=operator, user_id=seller.id, reason="Cleared", now=world.now
        )
    assert back.suspended_at is None
    assert world.get_ticket(listed).status == "cancelled"  # listings stay withdrawn
    with write_session(world.url) as db:
        auth.signin(db, email=seller.email, password=PASSWORD, now=world.now)
    assert [r.action for r in audit_rows(world)] == ["user.suspend", "user.reinstate"]


def test_every_action_refuses_a_non_operator_and_a_missing_reason(world: World) -> None:
    operator = make_operator(world)
    someone = as_signed_in(world.user())
    ticket = world.ticket(world.user())
    event = make_event(world)
    calls = {
        "suspend": lambda db, who, reason: admin.suspend_user(
            db, operator=who, user_id=ticket.user_id, reason=reason, now=world.now
        ),
        "reinstate": lambda db, who, reason: admin.reinstate_user(
            db, operator=who, user_id=ticket.user_id, reason=reason, now=world.now
        ),
        "withdraw": lambda db, who, reason: admin.withdraw_listing(
            db, operator=who, ticket_id=ticket.id, reason=reason, now=world.now
        ),
        "edit": lambda db, who, reason: admin_events.edit_event(
            db, operator=who, event_id=event.id, reason=reason, name="New", now=world.now
        ),
        "cancel": lambda db, who, reason: admin_events.cancel_event(
            db, operator=who, event_id=event.id, reason=reason, now=world.now
        ),
        "refund": lambda db, who, reason: admin.refund_order(
            db, operator=who, order_id=ticket.id, reason=reason, now=world.now
        ),
    }
    for name, call in calls.items():
        with write_session(world.url) as db:
            with pytest.raises(NotAuthenticated):
                call(db, None, "why")
            with pytest.raises(Forbidden):
                call(db, someone, "why")
            for blank in ("", "   ", None, 5):
                with pytest.raises(ValidationError) as missing:
                    call(db, operator, blank)
                assert missing.value.field == "reason", name
    assert world.get_ticket(ticket).status == "available"
    assert audit_rows(world) == []


def test_withdraw_tells_the_seller_and_cancels_a_reservation_first(world: World) -> None:
    operator = make_operator(world)
    free = world.ticket(world.user())
    held = world.order(world.user())
    with write_session(world.url) as db:
        out = admin.withdraw_listing(
            db, operator=operator, ticket_id=free.id, reason="Counterfeit", now=world.now
        )
        admin.withdraw_listing(
            db, operator=operator, ticket_id=held.ticket_id, reason="Duplicate", now=world.now
        )
    assert (out.status, out.withdrawn_reason) == (
        "cancelled",
        "Withdrawn by an operator: Counterfeit",
    )
    assert world.get_order(held).status == "cancelled"
    assert world.get_ticket(held.ticket_id).status == "cancelled"
    cancelled = world.events(free.id, type="TicketCancelled")[-1]
    assert json.loads(cancelled.payload)["withdrawnReason"].endswith("Counterfeit")
    assert [(r.action, r.target_id) for r in audit_rows(world)] == [
        ("ticket.withdraw", free.id),
        ("ticket.withdraw", held.ticket_id),
    ]
    with write_session(world.url) as db, pytest.raises(RuleViolation):
        admin.withdraw_listing(db, operator=operator, ticket_id=free.id, reason="x", now=world.now)


def test_edit_event_moves_the_start_and_caps_running_holds(world: World) -> None:
    operator = make_operator(world)
    event = make_event(world, days=10)
    hold = world.order(world.user(), event_ticket(world, world.user(), event))
    new_start = world.now + timedelta(minutes=5)  # earlier than the hold's end
    assert world.get_order(hold).expires_at > new_start
    with write_session(world.url) as db:
        edited = admin_events.edit_event(
            db,
            operator=operator,
            event_id=event.id,
            reason="Moved by the venue",
            name="Opera matinee",
            starts_at=new_start.isoformat(),
            now=world.now,
        )
    assert (edited.name, edited.starts_at, edited.version) == ("Opera matinee", new_start, 2)
    assert world.get_order(hold).expires_at == new_start
    assert world.event_types(hold.id)[-1] == "OrderUpdated"
    updated = json.loads(world.events(event.id, type="EventUpdated")[-1].payload)
    assert updated["name"] == "Opera matinee" and updated["change"] == "edited"
    [row] = audit_rows(world, action="event.edit")
    assert json.loads(row.details)["after"]["name"] == "Opera matinee"
    with write_session(world.url) as db, pytest.raises(ValidationError) as past:
        admin_events.edit_event(
            db,
            operator=operator,
            event_id=event.id,
            reason="x",
            starts_at=(world.now - timedelta(hours=1)).isoformat(),
            now=world.now,
        )
    assert past.value.field == "startsAt"


def test_refund_one_order_in_full_exactly_once(world: World, localstripe: LocalStripe) -> None:
    operator = make_operator(world)
    order = world.order(price="42.50")
    charge = world.pay(order)
    seller_id = world.get_ticket(order.ticket_id).user_id
    assert seller_balance(world, seller_id).pending == 4250  # the sale's proceeds (no fees)
    with write_session(world.url) as db:
        refunded = admin.refund_order(
            db, operator=operator, order_id=order.id, reason="Duplicate purchase", now=world.now
        )
    assert refunded.status == "cancelled" and refunded.e_ticket_revoked_at == world.now
    [after] = world.charges(order)
    assert after.status == "refunded" and after.stripe_refund_id
    [refund] = localstripe.refunds_of(charge.stripe_id)
    assert refund.amount == charge.amount_cents == 4250
    ticket = world.get_ticket(order.ticket_id)
    assert ticket.status == "cancelled"  # a refunded ticket leaves the market
    with read_session(world.url) as db:
        assert delivery.eticket_pdf_of_order(db.connection(), order.id) is None
    with read_session(world.url) as db:
        assert refund_notice(db, order_id=order.id) == "Your payment was refunded in full"
    message = json.loads(world.events(after.id, type="ChargeRefunded")[-1].payload)["message"]
    assert message == "Your payment was refunded in full: Duplicate purchase"
    [row] = audit_rows(world, action="order.refund")
    assert json.loads(row.details)["amountCents"] == 4250
    # The seller ledger reversed the sale in the refund's transaction: nothing to pay out.
    assert seller_balance(world, seller_id) == ledger.Balance()

    with write_session(world.url) as db, pytest.raises(RuleViolation):
        admin.refund_order(db, operator=operator, order_id=order.id, reason="x", now=world.now)
    with write_session(world.url) as db:  # the sweep finds nothing more to do
        payment_upkeep.retry_pending_refunds(db, now=world.now + timedelta(hours=1))
    assert len(localstripe.refunds_of(charge.stripe_id)) == 1


def test_refund_refuses_an_unpaid_order(world: World) -> None:
    operator = make_operator(world)
    order = world.order()
    with write_session(world.url) as db, pytest.raises(RuleViolation):
        admin.refund_order(db, operator=operator, order_id=order.id, reason="x", now=world.now)
    assert world.get_order(order).status == "created"
    assert audit_rows(world) == []


def test_cancelled_event_refuses_new_listings_reservations_and_edits(world: World) -> None:
    operator = make_operator(world)
    event = make_event(world)
    with write_session(world.url) as db:
        admin_events.cancel_event(
            db, operator=operator, event_id=event.id, reason="Storm", now=world.now
        )
    with read_session(world.url) as db:
        assert db.get(Event, event.id).status == "cancelled"
    with write_session(world.url) as db, pytest.raises(RuleViolation):
        admin_events.edit_event(
            db, operator=operator, event_id=event.id, reason="x", name="y", now=world.now
        )
    with write_session(world.url) as db, pytest.raises(RuleViolation):
        admin_events.cancel_event(
            db, operator=operator, event_id=event.id, reason="x", now=world.now
        )
    assert len(audit_rows(world, action="event.cancel")) == 1
