"""Reservations: reserve, cancel, expire. Every rule here is enforced by a conditional UPDATE
checked by row count (and the one-active-order-per-ticket partial unique index); the Python
checks before them only choose the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ticketing_app.errors import Forbidden, NotFound, RuleViolation
from ticketing_app.models import Order, Ticket, new_id
from ticketing_app.services import outbox
from ticketing_app.services.tickets import TICKET_NOT_FOUND, load_ticket, record_ticket_event
from ticketing_app.services.validation import is_uuid, price_number
from ticketing_app.services.views import iso
from ticketing_app.settings import get_settings

ALREADY_RESERVED = "Ticket is already reserved"
ORDER_NOT_FOUND = "Order not found"
ACTIVE = "created"


@dataclass(frozen=True)
class OrderWithTicket:
    order: Order
    ticket: Ticket


def lock_window() -> timedelta:
    return timedelta(seconds=get_settings().ticketing_lock_seconds)


def record_order_event(db: Session, type: str, order: Order, now: datetime, **extra: Any) -> None:
    payload = {
        "id": order.id,
        "userId": order.user_id,
        "ticketId": order.ticket_id,
        "price": price_number(order.price_cents),
        "status": order.status,
        "expiresAt": iso(order.expires_at),
        "version": order.version,
        **extra,
    }
    outbox.record(
        db,
        type=type,
        aggregate_type="order",
        aggregate_id=order.id,
        aggregate_version=order.version,
        payload=payload,
        now=now,
    )


def load_order(db: Session, order_id: Any, *, refresh: bool = False) -> Order:
    if not is_uuid(order_id):
        raise NotFound(ORDER_NOT_FOUND)
    order = db.get(Order, order_id.lower(), populate_existing=refresh)
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    return order


def release_ticket(db: Session, order: Order, now: datetime) -> Ticket | None:
    """Put the ticket back on sale, but only if this order is the one holding it (rule 6)."""
    changed = db.exec(
        sa.update(Ticket)
        .where(
            Ticket.id == order.ticket_id,
            Ticket.order_id == order.id,
            Ticket.status == "reserved",
        )
        .values(status="available", order_id=None, version=Ticket.version + 1, updated_at=now)
    ).rowcount
    if changed != 1:
        return None
    ticket = load_ticket(db, order.ticket_id, refresh=True)
    record_ticket_event(db, "TicketUpdated", ticket, now)
    return ticket


def end_order(db: Session, order: Order, status: str, now: datetime, **extra: Any) -> bool:
    """Move an active order to cancelled/expired and release its ticket; False if not active."""
    event_type = {"cancelled": "OrderCancelled", "expired": "OrderExpired"}[status]
    changed = db.exec(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == ACTIVE)
        .values(status=status, version=Order.version + 1, updated_at=now)
    ).rowcount
    if changed != 1:
        return False
    order = load_order(db, order.id, refresh=True)
    record_order_event(db, event_type, order, now, **extra)
    release_ticket(db, order, now)
    return True


def _refusal(ticket: Ticket) -> RuleViolation:
    """Why a ticket cannot be reserved, from its current status."""
    if ticket.status == "sold":
        return RuleViolation("Ticket has already been sold")
    if ticket.status == "cancelled":
        return RuleViolation("Ticket is no longer for sale")
    return RuleViolation(ALREADY_RESERVED)


# Built once: constructing the statement cost about as much Python time as running it.
_TICKET_AND_HOLDER = (
    select(Ticket, Order)
    .outerjoin(Order, Order.id == Ticket.order_id)
    .where(Ticket.id == sa.bindparam("ticket_id"))
)
_LOCK_TICKET = (
    sa.update(Ticket)
    .where(Ticket.id == sa.bindparam("ticket_id"), Ticket.status == "available")
    .values(
        status="reserved",
        order_id=sa.bindparam("order_id"),
        version=Ticket.version + 1,
        updated_at=sa.bindparam("now"),
    )
    .returning(Ticket)
    .execution_options(synchronize_session=False, populate_existing=True)
)


def _ticket_and_holding_order(db: Session, ticket_id: Any) -> tuple[Ticket, Order | None]:
    """The ticket and the order holding it (if any) in one query: one round trip fewer for
    every refusal, which is most answers when many buyers race."""
    if not is_uuid(ticket_id):
        raise NotFound(TICKET_NOT_FOUND)
    row = db.exec(_TICKET_AND_HOLDER, params={"ticket_id": ticket_id.lower()}).first()
    if row is None:
        raise NotFound(TICKET_NOT_FOUND)
    return row[0], row[1]


def reserve_ticket(db: Session, *, buyer_id: str, ticket_id: Any, now: datetime) -> OrderWithTicket:
    """Create an order and lock the ticket in one transaction; of concurrent buyers one wins."""
    try:
        with db.begin():
            ticket, holding = _ticket_and_holding_order(db, ticket_id)
            if ticket.user_id == buyer_id:
                raise RuleViolation("You cannot buy your own ticket")
            if ticket.status == "reserved" and ticket.order_id:
                # Rule 5: a hold past due is expired here, whether or not a timer fired.
                if holding is not None and holding.status == ACTIVE and holding.expires_at <= now:
                    end_order(db, holding, "expired", now)
                elif holding is not None and holding.status == ACTIVE:
                    # Held, in the same snapshot as the ticket: refuse without another query
                    # (the common answer in a rush, bench/bench_reserve).
                    raise RuleViolation(ALREADY_RESERVED)
                # Otherwise re-read: on PostgreSQL the hold may have ended (a sweep, a cancel)
                # and committed after our first read, leaving that read stale.
                ticket = load_ticket(db, ticket.id, refresh=True)
            if ticket.status != "available":
                raise _refusal(ticket)
            order_id = new_id()
            # The conditional UPDATE decides (checked by row count) and, with RETURNING, gives
            # the ticket's new version, price and title without a re-read.
            locked = (
                db.exec(
                    _LOCK_TICKET,
                    params={"ticket_id": ticket.id, "order_id": order_id, "now": now},
                )
                .scalars()
                .all()
            )
            if len(locked) != 1:  # changed and committed since our read (PostgreSQL)
                raise _refusal(load_ticket(db, ticket.id, refresh=True))
            ticket = locked[0]
            order = Order(
                id=order_id,
                user_id=buyer_id,
                ticket_id=ticket.id,
                price_cents=ticket.price_cents,  # the locked row's price, even if repriced
                expires_at=now + lock_window(),
                created_at=now,
                updated_at=now,
            )
            db.add(order)
            # Order and both outbox rows go in the one flush at commit.
            record_order_event(db, "OrderCreated", order, now, ticketTitle=ticket.title)
            record_ticket_event(db, "TicketUpdated", ticket, now)
    except IntegrityError:
        raise RuleViolation(ALREADY_RESERVED) from None
    return OrderWithTicket(order=order, ticket=ticket)


def _own_order(db: Session, user_id: str, order_id: Any) -> Order:
    order = load_order(db, order_id)
    if order.user_id != user_id:
        raise Forbidden("This order belongs to someone else")
    return order


def cancel_order(db: Session, *, user_id: str, order_id: Any, now: datetime) -> Order:
    """The buyer gives up the order; cancelling an ended order is a no-op."""
    with db.begin():
        order = _own_order(db, user_id, order_id)
        if order.status == "complete":
            raise RuleViolation("Cannot cancel a completed order")
        if order.status == ACTIVE and not end_order(db, order, "cancelled", now):
            order = load_order(db, order.id, refresh=True)
            if order.status == "complete":
                raise RuleViolation("Cannot cancel a completed order")
        order = load_order(db, order.id, refresh=True)
    return order


def expire_order(db: Session, *, order_id: str, now: datetime) -> bool:
    """Expire one order if it is still active and due. Idempotent; True if it changed."""
    if not is_uuid(order_id):
        return False
    with db.begin():
        order = db.get(Order, order_id.lower())
        if order is None or order.status != ACTIVE or order.expires_at > now:
            return False
        return end_order(db, order, "expired", now)


def due_order_ids(db: Session, *, now: datetime, limit: int = 500) -> list[str]:
    with db.begin():
        return list(
            db.exec(
                select(Order.id)
                .where(Order.status == ACTIVE, Order.expires_at <= now)
                .order_by(Order.expires_at)
                .limit(limit)
            )
        )


def expire_due_orders(db: Session, *, now: datetime, limit: int = 500) -> list[str]:
    """Expire up to `limit` active orders past due in ONE transaction (two set-based UPDATEs
    with RETURNING, then their events); returns the ids this call expired.

    One transaction per order took 7 s to drain 1,000 orders due in the same second on
    PostgreSQL (bench/bench_expiry.py, docs/performance.md). The conditions are those of
    `end_order`/`release_ticket`, so a concurrent cancel or payment still wins or loses each
    row cleanly (row locks, then the WHERE is re-checked)."""
    with db.begin():
        due = (
            select(Order.id)
            .where(Order.status == ACTIVE, Order.expires_at <= now)
            .order_by(Order.expires_at)
            .limit(limit)
            # PostgreSQL: concurrent batches (timers, the sweep) take disjoint rows instead of
            # deadlocking on each other's; a skipped order is another transaction's to end.
            .with_for_update(skip_locked=True)
        )
        ended = list(
            db.exec(
                sa.update(Order)
                .where(Order.id.in_(due.scalar_subquery()), Order.status == ACTIVE)
                .values(status="expired", version=Order.version + 1, updated_at=now)
                .returning(Order)
                .execution_options(synchronize_session=False, populate_existing=True)
            ).scalars()
        )
        if not ended:
            return []
        for order in ended:
            record_order_event(db, "OrderExpired", order, now)
        released = db.exec(
            sa.update(Ticket)
            .where(
                Ticket.order_id.in_([o.id for o in ended]),
                Ticket.status == "reserved",
            )
            .values(status="available", order_id=None, version=Ticket.version + 1, updated_at=now)
            .returning(Ticket)
            .execution_options(synchronize_session=False, populate_existing=True)
        ).scalars()
        for ticket in released:
            record_ticket_event(db, "TicketUpdated", ticket, now)
    return [o.id for o in ended]


def next_expiry(db: Session) -> datetime | None:
    with db.begin():
        return db.exec(select(sa.func.min(Order.expires_at)).where(Order.status == ACTIVE)).one()


def get_order(db: Session, *, user_id: str, order_id: Any) -> OrderWithTicket:
    with db.begin():
        order = _own_order(db, user_id, order_id)
        ticket = db.get(Ticket, order.ticket_id)
        assert ticket is not None
    return OrderWithTicket(order=order, ticket=ticket)


def list_orders(db: Session, *, user_id: str, limit: int = 200) -> list[OrderWithTicket]:
    with db.begin():
        rows = db.exec(
            select(Order, Ticket)
            .join(Ticket, Ticket.id == Order.ticket_id)
            .where(Order.user_id == user_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        ).all()
    return [OrderWithTicket(order=o, ticket=t) for o, t in rows]
