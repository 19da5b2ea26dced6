"""Reservations for buyers: reserve, cancel, expire, read. The state changes themselves are
`transitions` (one function each, conditional UPDATEs checked by row count); this module
adds who may ask and what they are told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ticketing_app.errors import Forbidden, NotFound, RuleViolation, ValidationError
from ticketing_app.models import Order, OrderStatus, Ticket
from ticketing_app.services import transitions
from ticketing_app.services.messages import (
    ALREADY_RESERVED,
    NOT_YOUR_ORDER,
    ORDER_COMPLETE,
    ORDER_NOT_FOUND,
    TICKET_NOT_FOUND,
)
from ticketing_app.services.tickets import MAX_LIMIT, check_page
from ticketing_app.services.transitions import ACTIVE, OrderWithTicket, lock_window
from ticketing_app.services.validation import is_uuid, parse_price

__all__ = ["ACTIVE", "OrderWithTicket", "lock_window"]


def load_order(db: Session, order_id: Any, *, refresh: bool = False) -> Order:
    if not is_uuid(order_id):
        raise NotFound(ORDER_NOT_FOUND)
    order = db.get(Order, order_id.lower(), populate_existing=refresh)
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    return order


def own_order(db: Session, user_id: str, order_id: Any, *, refresh: bool = False) -> Order:
    """The order, if `user_id` is its buyer: 404 for an unknown id, 403 for someone else's."""
    order = load_order(db, order_id, refresh=refresh)
    if order.user_id != user_id:
        raise Forbidden(NOT_YOUR_ORDER)
    return order


def reserve_ticket(
    engine: sa.Engine,
    *,
    buyer_id: str,
    ticket_id: Any,
    now: datetime,
    expected_price: Any = None,
) -> OrderWithTicket:
    """Create an order and lock the ticket in one transaction; of concurrent buyers one wins.

    Takes the engine, not a session: in a rush most attempts are refusals, and an ORM
    session's bookkeeping — even opening and closing one — was a large part of a refusal's
    cost (docs/performance.md §1).

    `expected_price` (optional, decimal major units) is the price the buyer saw: if the ticket
    costs anything else by the time it is locked, nothing is reserved (400 on expectedPrice)."""
    expected_cents = None if expected_price is None else _expected_cents(expected_price)
    if not is_uuid(ticket_id):
        raise NotFound(TICKET_NOT_FOUND)
    ticket_id = ticket_id.lower()
    # Refuse a plainly taken ticket from a read first: one round trip in autocommit on
    # PostgreSQL (no BEGIN/ROLLBACK) and, on SQLite, a WAL snapshot instead of queueing for
    # the single write lock just to say no. The transaction below decides for the rest.
    params = {"ticket_id": ticket_id, "now": now}
    found = transitions.PLAIN_REFUSAL_READ.first(engine, params)
    transitions.refuse_plainly_refused(found, buyer_id)
    try:
        with engine.begin() as conn:
            return transitions.reserve(
                conn,
                buyer_id=buyer_id,
                ticket_id=ticket_id,
                now=now,
                expected_price_cents=expected_cents,
            )
    except IntegrityError:  # the one-active-order index: another buyer won
        raise RuleViolation(ALREADY_RESERVED) from None


def _expected_cents(value: Any) -> int:
    try:
        return parse_price(value)
    except ValidationError as exc:  # the same rules as a price, named for this field
        message = exc.message.replace("Price", "Expected price")
        raise ValidationError(message, "expectedPrice") from None


def cancel_order(db: Session, *, user_id: str, order_id: Any, now: datetime) -> Order:
    """The buyer gives up the order; cancelling an ended order is a no-op."""
    with db.begin():
        order = own_order(db, user_id, order_id)
        if order.status == OrderStatus.COMPLETE:
            raise RuleViolation(ORDER_COMPLETE)
        if order.status == ACTIVE:
            transitions.end_orders(db.connection(), [order.id], OrderStatus.CANCELLED, now)
        order = load_order(db, order.id, refresh=True)
        if order.status == OrderStatus.COMPLETE:  # paid between our read and our write
            raise RuleViolation(ORDER_COMPLETE)
    return order


def expire_order(db: Session, *, order_id: str, now: datetime) -> bool:
    """Expire one order if it is still active and due. Idempotent; True if it changed."""
    if not is_uuid(order_id):
        return False
    with db.begin():
        ended = transitions.end_orders(
            db.connection(), [order_id.lower()], OrderStatus.EXPIRED, now
        )
    return bool(ended)


def expire_due_orders(db: Session, *, now: datetime, limit: int = 500) -> list[str]:
    """Expire up to `limit` active orders past due in ONE transaction; returns their ids.

    One transaction per order took 7 s to drain 1,000 orders due in the same second on
    PostgreSQL (bench/bench_expiry.py, docs/performance.md)."""
    orders = Order.__table__
    due = (
        sa.select(orders.c.id)
        .where(orders.c.status == ACTIVE, orders.c.expires_at <= now)
        .order_by(orders.c.expires_at)
        .limit(limit)
        # PostgreSQL: concurrent batches (timers, the sweep) take disjoint rows instead of
        # deadlocking on each other's; a skipped order is another transaction's to end.
        .with_for_update(skip_locked=True)
        # A CTE, evaluated once: as a plain `IN (subquery)` PostgreSQL may run the locking
        # subquery again, and the LIMIT no longer bounds the batch.
        .cte("due")
    )
    with db.begin():
        ended = transitions.end_orders(
            db.connection(), sa.select(due.c.id), OrderStatus.EXPIRED, now
        )
    return [order.id for order in ended]


def next_expiry(db: Session) -> datetime | None:
    with db.begin():
        return db.exec(select(sa.func.min(Order.expires_at)).where(Order.status == ACTIVE)).one()


def get_order(db: Session, *, user_id: str, order_id: Any) -> OrderWithTicket:
    with db.begin():
        order = own_order(db, user_id, order_id)
        ticket = db.get(Ticket, order.ticket_id)
        assert ticket is not None
    return OrderWithTicket(order=order, ticket=ticket)


def list_orders(
    db: Session, *, user_id: str, limit: int = MAX_LIMIT, offset: int = 0
) -> list[OrderWithTicket]:
    """The buyer's orders, newest first (by default all, up to the page cap of 200);
    `limit`/`offset` are checked like the ticket list's."""
    check_page(limit, offset)
    with db.begin():
        rows = db.exec(
            select(Order, Ticket)
            .join(Ticket, Ticket.id == Order.ticket_id)
            .where(Order.user_id == user_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return [OrderWithTicket(order=o, ticket=t) for o, t in rows]
