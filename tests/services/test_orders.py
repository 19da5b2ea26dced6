"""Reservations (SPEC §3 Order, rules 3–6): reserve, cancel, expire, read."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ticketing_app.errors import Forbidden, NotFound, RuleViolation, ValidationError
from ticketing_app.models import Order, OrderStatus, Ticket
from ticketing_app.services import orders, tickets, transitions
from ticketing_app.settings import reset_settings

WINDOW = timedelta(seconds=900)


def triples(events):
    return [(e.type, e.aggregate_id, e.aggregate_version) for e in events]


def cancel(new_session, user, order_id, now):
    with new_session() as db:
        return orders.cancel_order(db, user_id=user.id, order_id=order_id, now=now)


def expire(new_session, order_id, now):
    with new_session() as db:
        return orders.expire_order(db, order_id=order_id, now=now)


def complete(rows, order_id, ticket_id):
    """Stand-in for a settled payment: order complete, ticket sold."""
    rows.execute(sa.update(Order).where(Order.id == order_id).values(status="complete"))
    rows.execute(
        sa.update(Ticket).where(Ticket.id == ticket_id).values(status="sold", order_id=None)
    )


def test_reserve_locks_ticket_and_snapshots_price(
    make_ticket, buyer, reserve, now, rows, stored_events
):
    ticket = make_ticket(title="Opera", price="19.99")
    before = len(stored_events())
    result = reserve(buyer, ticket.id)
    order = rows.order(result.order.id)
    assert (order.user_id, order.ticket_id, order.status) == (buyer.id, ticket.id, "created")
    assert (order.price_cents, order.failed_payment_attempts, order.version) == (1999, 0, 1)
    assert order.expires_at == now + WINDOW and order.created_at == now
    locked = rows.ticket(ticket.id)
    assert (locked.status, locked.order_id, locked.version) == ("reserved", order.id, 2)
    assert result.ticket.order_id == order.id
    events = stored_events(before)
    assert triples(events) == [("OrderCreated", order.id, 1), ("TicketUpdated", ticket.id, 2)]
    assert events[0].payload["price"] == 19.99
    assert events[0].payload["ticketTitle"] == "Opera"
    assert events[0].payload["expiresAt"] == "2026-11-25T12:15:00.000Z"
    assert events[1].payload["status"] == "reserved" and events[1].payload["orderId"] == order.id


def test_reservation_window_comes_from_settings(make_ticket, buyer, reserve, now, monkeypatch):
    monkeypatch.setenv("TICKETING_LOCK_SECONDS", "5")
    reset_settings()
    try:
        result = reserve(buyer, make_ticket().id)
    finally:
        monkeypatch.delenv("TICKETING_LOCK_SECONDS")
        reset_settings()
    assert result.order.expires_at == now + timedelta(seconds=5)


def test_order_keeps_its_price_when_the_ticket_is_repriced(
    new_session, make_ticket, seller, buyer, make_user, reserve, now, rows
):
    ticket = make_ticket(price=20)
    first = reserve(buyer, ticket.id).order
    cancel(new_session, buyer, first.id, now)
    with new_session() as db:
        tickets.update_ticket(
            db, user_id=seller.id, ticket_id=ticket.id, title="Concert", price=35, now=now
        )
    second = reserve(make_user(), ticket.id).order
    assert rows.order(first.id).price_cents == 2000
    assert rows.order(second.id).price_cents == 3500


def test_cannot_buy_own_ticket(make_ticket, seller, reserve, rows, event_count):
    ticket = make_ticket()
    before = event_count()
    with pytest.raises(RuleViolation) as err:
        reserve(seller, ticket.id)
    assert (err.value.message, err.value.status) == ("You cannot buy your own ticket", 400)
    assert rows.ticket(ticket.id).status == "available" and event_count() == before


def test_reserved_sold_and_cancelled_tickets_are_refused(
    new_session, make_ticket, seller, buyer, make_user, reserve, now, rows, event_count
):
    reserved, sold, gone = make_ticket(), make_ticket(), make_ticket()
    holder = reserve(buyer, reserved.id).order
    complete(rows, reserve(buyer, sold.id).order.id, sold.id)
    with new_session() as db:
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=gone.id, now=now)
    other = make_user()
    before = event_count()
    for ticket_id, message in [
        (reserved.id, "Ticket is already reserved"),
        (sold.id, "Ticket has already been sold"),
        (gone.id, "Ticket is no longer for sale"),
    ]:
        with pytest.raises(RuleViolation) as err:
            reserve(other, ticket_id)
        assert err.value.message == message
    # The holder cannot take a second order on the same ticket either.
    with pytest.raises(RuleViolation, match="^Ticket is already reserved$"):
        reserve(buyer, reserved.id)
    assert rows.ticket(reserved.id).order_id == holder.id
    assert event_count() == before


def test_reserve_unknown_ticket_is_not_found(buyer, reserve, subtests):
    for ticket_id in (str(uuid.uuid4()), "nope", "", None, 7):
        with subtests.test(ticket_id=ticket_id), pytest.raises(NotFound) as err:
            reserve(buyer, ticket_id)
        assert (err.value.message, err.value.status) == ("Ticket not found", 404)


def test_buyer_cancels_and_ticket_is_released(
    new_session, make_ticket, buyer, reserve, now, rows, stored_events
):
    ticket = make_ticket()
    order = reserve(buyer, ticket.id).order
    before = len(stored_events())
    later = now + timedelta(minutes=3)
    cancelled = cancel(new_session, buyer, order.id, later)
    assert cancelled.status == "cancelled"
    stored = rows.order(order.id)
    assert (stored.status, stored.version, stored.updated_at) == ("cancelled", 2, later)
    released = rows.ticket(ticket.id)
    assert (released.status, released.order_id, released.version) == ("available", None, 3)
    assert triples(stored_events(before)) == [
        ("OrderCancelled", order.id, 2),
        ("TicketUpdated", ticket.id, 3),
    ]
    # Cancelling again is a no-op: same answer, nothing written.
    assert cancel(new_session, buyer, order.id, later).status == "cancelled"
    assert len(stored_events(before)) == 2


def test_only_the_buyer_cancels(new_session, make_ticket, seller, buyer, reserve, now, rows):
    ticket = make_ticket()
    order = reserve(buyer, ticket.id).order
    with pytest.raises(Forbidden) as err:
        cancel(new_session, seller, order.id, now)
    assert err.value.status == 403
    assert rows.order(order.id).status == "created"
    assert rows.ticket(ticket.id).order_id == order.id


def test_completed_order_cannot_be_cancelled(
    new_session, make_ticket, buyer, reserve, now, rows, event_count
):
    ticket = make_ticket()
    order = reserve(buyer, ticket.id).order
    complete(rows, order.id, ticket.id)
    before = event_count()
    with pytest.raises(RuleViolation) as err:
        cancel(new_session, buyer, order.id, now)
    assert (err.value.message, err.value.status) == ("Cannot cancel a completed order", 400)
    assert rows.order(order.id).status == "complete" and rows.ticket(ticket.id).status == "sold"
    assert event_count() == before


def test_cancelling_an_expired_order_is_a_no_op(
    new_session, make_ticket, buyer, reserve, now, rows, event_count
):
    order = reserve(buyer, make_ticket().id).order
    assert expire(new_session, order.id, now + WINDOW)
    before = event_count()
    assert cancel(new_session, buyer, order.id, now + WINDOW).status == "expired"
    assert rows.order(order.id).status == "expired" and event_count() == before


def test_unknown_order_is_not_found(new_session, buyer, now, subtests):
    for order_id in (str(uuid.uuid4()), "garbage", "", None, 7):
        with subtests.test(order_id=order_id):
            with pytest.raises(NotFound) as err:
                cancel(new_session, buyer, order_id, now)
            assert (err.value.message, err.value.status) == ("Order not found", 404)
            with new_session() as db, pytest.raises(NotFound):
                orders.get_order(db, user_id=buyer.id, order_id=order_id)
            assert expire(new_session, order_id, now) is False


def test_expire_order_only_when_due_and_only_once(
    new_session, make_ticket, buyer, reserve, now, rows, stored_events
):
    ticket = make_ticket()
    order = reserve(buyer, ticket.id).order
    before = len(stored_events())
    assert expire(new_session, order.id, now + WINDOW - timedelta(seconds=1)) is False
    assert rows.order(order.id).status == "created"
    assert expire(new_session, order.id, now + WINDOW) is True  # due at expires_at exactly
    assert expire(new_session, order.id, now + WINDOW) is False
    assert expire(new_session, order.id, now + 2 * WINDOW) is False
    assert rows.order(order.id).status == "expired"
    released = rows.ticket(ticket.id)
    assert (released.status, released.order_id) == ("available", None)
    assert triples(stored_events(before)) == [
        ("OrderExpired", order.id, 2),
        ("TicketUpdated", ticket.id, 3),
    ]
    assert expire(new_session, str(uuid.uuid4()), now + WINDOW) is False


def test_expire_order_leaves_ended_orders_alone(
    new_session, make_ticket, buyer, reserve, now, rows
):
    cancelled = reserve(buyer, make_ticket().id).order
    cancel(new_session, buyer, cancelled.id, now)
    ticket = make_ticket()
    done = reserve(buyer, ticket.id).order
    complete(rows, done.id, ticket.id)
    for order_id, status in [(cancelled.id, "cancelled"), (done.id, "complete")]:
        assert expire(new_session, order_id, now + 2 * WINDOW) is False
        assert rows.order(order_id).status == status
    assert rows.ticket(ticket.id).status == "sold"


def test_sweep_expires_every_due_order_once(
    new_session, make_ticket, buyer, make_user, reserve, now, rows, stored_events
):
    made = [make_ticket(title=f"T{i}") for i in range(4)]
    buyers = [buyer, buyer, buyer, make_user()]  # at most 3 holds each
    placed = [
        reserve(b, t.id, at=now + timedelta(minutes=i)).order
        for i, (b, t) in enumerate(zip(buyers, made, strict=True))
    ]
    at = now + WINDOW + timedelta(minutes=1, seconds=30)  # the first two are due
    with new_session() as db:
        assert orders.next_expiry(db) == now + WINDOW
    with new_session() as db:
        swept = orders.expire_due_orders(db, now=at)
    assert sorted(swept) == sorted(o.id for o in placed[:2])
    with new_session() as db:
        assert orders.expire_due_orders(db, now=at) == []
    assert [rows.order(o.id).status for o in placed] == ["expired", "expired", "created", "created"]
    assert [rows.ticket(t.id).status for t in made] == [
        "available",
        "available",
        "reserved",
        "reserved",
    ]
    expired_events = [e for e in stored_events() if e.type == "OrderExpired"]
    assert sorted(e.aggregate_id for e in expired_events) == sorted(swept)
    with new_session() as db:
        assert orders.next_expiry(db) == now + WINDOW + timedelta(minutes=2)


def test_sweep_batch_limit_holds(new_session, make_ticket, make_user, reserve, now, rows):
    """`limit` bounds one sweep's batch: PostgreSQL may run an `IN (SELECT … LIMIT … FOR
    UPDATE SKIP LOCKED)` subquery again per row, which expired 4 of 5 with limit=2."""
    made = [make_ticket(title=f"T{i}") for i in range(5)]
    placed = [reserve(make_user(), t.id).order for t in made]
    at = now + WINDOW + timedelta(seconds=1)
    with new_session() as db:
        first = orders.expire_due_orders(db, now=at, limit=2)
    assert len(first) == 2
    assert sum(rows.order(o.id).status == "expired" for o in placed) == 2
    with new_session() as db:
        rest = orders.expire_due_orders(db, now=at, limit=10)
    assert sorted(first + rest) == sorted(o.id for o in placed)


def test_reserving_a_ticket_held_past_due_expires_the_old_hold_first(
    make_ticket, buyer, make_user, reserve, now, rows, stored_events
):
    """Rule 5: no timer ran, yet the next buyer gets the ticket, in one transaction."""
    ticket = make_ticket()
    old = reserve(buyer, ticket.id).order
    other = make_user()
    with pytest.raises(RuleViolation, match="^Ticket is already reserved$"):
        reserve(other, ticket.id, at=now + WINDOW - timedelta(seconds=1))
    before = len(stored_events())
    new = reserve(other, ticket.id, at=now + WINDOW).order
    assert rows.order(old.id).status == "expired"
    held = rows.ticket(ticket.id)
    assert (held.status, held.order_id, held.version) == ("reserved", new.id, 4)
    assert triples(stored_events(before)) == [
        ("OrderExpired", old.id, 2),
        ("TicketUpdated", ticket.id, 3),
        ("OrderCreated", new.id, 1),
        ("TicketUpdated", ticket.id, 4),
    ]


def test_buyer_may_reserve_again_after_own_hold_expired(make_ticket, buyer, reserve, now, rows):
    """Once the re-reserve cooldown (by default one lock window after the hold ran out) is
    over; test_reserve_abuse.py has the refusals before it."""
    ticket = make_ticket()
    first = reserve(buyer, ticket.id).order
    second = reserve(buyer, ticket.id, at=now + 2 * WINDOW + timedelta(seconds=1)).order
    assert rows.order(first.id).status == "expired" and second.id != first.id
    assert rows.ticket(ticket.id).order_id == second.id


def test_late_expire_or_cancel_never_releases_another_buyers_hold(
    new_session, make_ticket, buyer, make_user, reserve, now, rows, event_count
):
    """Rule 6: A's hold lapsed and B reserved; A's late timer or cancel leaves B's hold alone."""
    ticket = make_ticket()
    old = reserve(buyer, ticket.id).order
    other = make_user()
    later = now + WINDOW + timedelta(seconds=5)
    new = reserve(other, ticket.id, at=later).order
    before = event_count()
    assert expire(new_session, old.id, later + WINDOW) is False  # the stale timer fires
    assert cancel(new_session, buyer, old.id, later).status == "expired"
    with new_session() as db, db.begin():  # even ending the old order directly changes nothing
        ended = transitions.end_orders(db.connection(), [old.id], OrderStatus.CANCELLED, later)
        assert ended == []
    held = rows.ticket(ticket.id)
    assert (held.status, held.order_id, held.version) == ("reserved", new.id, 4)
    assert rows.order(new.id).status == "created"
    assert event_count() == before


def test_list_orders_is_mine_newest_first(make_ticket, buyer, make_user, reserve, now, new_session):
    a, b, c = make_ticket(title="A"), make_ticket(title="B"), make_ticket(title="C")
    first = reserve(buyer, a.id, at=now).order
    second = reserve(buyer, b.id, at=now + timedelta(seconds=1)).order
    reserve(make_user(), c.id)
    with new_session() as db:
        mine = orders.list_orders(db, user_id=buyer.id)
    assert [(o.order.id, o.ticket.title) for o in mine] == [(second.id, "B"), (first.id, "A")]
    with new_session() as db:
        assert orders.list_orders(db, user_id=str(uuid.uuid4())) == []


def test_list_orders_pages_like_the_ticket_list(make_ticket, buyer, reserve, now, new_session):
    made = [reserve(buyer, make_ticket().id, at=now + timedelta(seconds=i)).order for i in range(3)]
    newest = [o.id for o in reversed(made)]

    def page(**kwargs) -> list[str]:
        with new_session() as db:
            return [r.order.id for r in orders.list_orders(db, user_id=buyer.id, **kwargs)]

    assert page() == newest  # default: everything, up to 200
    assert page(limit=2) == newest[:2]
    assert page(limit=2, offset=2) == newest[2:]
    assert page(offset=3) == []
    for kwargs, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 1_000_001}, "offset"),
    ]:
        with pytest.raises(ValidationError) as err:
            page(**kwargs)
        assert err.value.field == field


def test_get_order_mine_or_forbidden(make_ticket, seller, buyer, reserve, new_session):
    ticket = make_ticket(title="Ballet")
    order = reserve(buyer, ticket.id).order
    with new_session() as db:
        found = orders.get_order(db, user_id=buyer.id, order_id=order.id)
    assert (found.order.id, found.ticket.id, found.ticket.title) == (order.id, ticket.id, "Ballet")
    with new_session() as db, pytest.raises(Forbidden) as err:
        orders.get_order(db, user_id=seller.id, order_id=order.id)
    assert err.value.status == 403
