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

from ticketing_app import outbox
from ticketing_app.db import DriverQuery
from ticketing_app.errors import Forbidden, NotFound, RuleViolation
from ticketing_app.models import Order, Ticket, UTCDateTime, new_id
from ticketing_app.services.tickets import (
    MAX_LIMIT,
    TICKET_NOT_FOUND,
    check_page,
    load_ticket,
    record_ticket_event,
    ticket_event,
)
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


def _order_event(type: str, order: Order, **extra: Any) -> outbox.NewEvent:
    payload = {
        "id": order.id,
        "userId": order.user_id,
        "ticketId": order.ticket_id,
        "price": price_number(order.price_cents),
        "status": order.status,
        "expiresAt": iso(order.expires_at),
        "version": order.version,
        # Whether a PaymentIntent was opened: lets the intent clean-up skip the other orders
        # without a read each (payment_upkeep.install_intent_canceller).
        "hasPaymentIntent": order.payment_intent_id is not None,
        **extra,
    }
    return outbox.NewEvent(type, "order", order.id, order.version, payload)


def record_order_event(db: Session, type: str, order: Order, now: datetime, **extra: Any) -> None:
    outbox.record_rows(db, [_order_event(type, order, **extra)], now=now)


def load_order(db: Session, order_id: Any, *, refresh: bool = False) -> Order:
    if not is_uuid(order_id):
        raise NotFound(ORDER_NOT_FOUND)
    order = db.get(Order, order_id.lower(), populate_existing=refresh)
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    return order


def unhold_ticket(order: Order, status: str, now: datetime) -> sa.Update:
    """The UPDATE that moves the ticket `order` holds to `status` (available or sold) — only
    while this order is the one holding it (rule 6); check its row count."""
    return (
        sa.update(Ticket)
        .where(
            Ticket.id == order.ticket_id,
            Ticket.order_id == order.id,
            Ticket.status == "reserved",
        )
        .values(status=status, order_id=None, version=Ticket.version + 1, updated_at=now)
    )


def release_ticket(db: Session, order: Order, now: datetime) -> Ticket | None:
    """Put the ticket back on sale, but only if this order is the one holding it (rule 6)."""
    changed = db.exec(unhold_ticket(order, "available", now)).rowcount
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


# The reservation path runs on Core rows, not ORM entities: in a rush most attempts are
# refusals, and the ORM's per-attempt Python (identity map, entity loading, unit of work) was
# most of their cost under the GIL (bench/bench_reserve.py, docs/performance.md §1).
# Statements are built once: constructing them cost about as much Python time as running them.
_TICKETS = Ticket.__table__
_ORDERS = Order.__table__
_WITH_HOLDER = _TICKETS.outerjoin(_ORDERS, _ORDERS.c.id == _TICKETS.c.order_id)
_TICKET_AND_HOLDER = (
    sa.select(
        _TICKETS.c.user_id,
        _TICKETS.c.status,
        _TICKETS.c.order_id,
        _ORDERS.c.status.label("holder_status"),
        _ORDERS.c.expires_at.label("holder_expires_at"),
    )
    .select_from(_WITH_HOLDER)
    .where(_TICKETS.c.id == sa.bindparam("ticket_id"))
)
# The refusal check, run on the driver: plain columns only (no result processing), the
# hold's "still running?" computed by the database.
_PLAIN_REFUSAL_READ = DriverQuery(
    sa.select(
        _TICKETS.c.user_id,
        _TICKETS.c.status,
        sa.and_(
            _ORDERS.c.status == sa.literal_column(f"'{ACTIVE}'"),
            _ORDERS.c.expires_at > sa.bindparam("now", type_=UTCDateTime),
        ),
    )
    .select_from(_WITH_HOLDER)
    .where(_TICKETS.c.id == sa.bindparam("ticket_id"))
)
_TICKET_STATUS = sa.select(_TICKETS.c.status).where(_TICKETS.c.id == sa.bindparam("ticket_id"))
_LOCK_TICKET = (
    sa.update(_TICKETS)
    .where(
        _TICKETS.c.id == sa.bindparam("ticket_id"),
        _TICKETS.c.status == "available",
        _TICKETS.c.user_id != sa.bindparam("buyer_id"),  # never one's own ticket
    )
    .values(
        status="reserved",
        order_id=sa.bindparam("order_id"),
        version=_TICKETS.c.version + 1,
        updated_at=sa.bindparam("now"),
    )
    .returning(*_TICKETS.c)
)
_INSERT_ORDER = sa.insert(_ORDERS)


def _refusal_for(status: str) -> RuleViolation:
    """Why a ticket cannot be reserved, from its current status."""
    if status == "sold":
        return RuleViolation("Ticket has already been sold")
    if status == "cancelled":
        return RuleViolation("Ticket is no longer for sale")
    return RuleViolation(ALREADY_RESERVED)


def _current_status(conn: sa.Connection, ticket_id: str) -> str:
    return conn.execute(_TICKET_STATUS, {"ticket_id": ticket_id}).scalar_one()


def _refuse_plainly_refused(found: tuple[str, str, Any] | None, buyer_id: str) -> None:
    """Raise the refusal that (seller, status, held and not due) already decides."""
    if found is None:
        raise NotFound(TICKET_NOT_FOUND)
    seller_id, status, held = found
    if seller_id == buyer_id:
        raise RuleViolation("You cannot buy your own ticket")
    if status in ("sold", "cancelled"):
        raise _refusal_for(status)
    if status == "reserved" and held:
        raise RuleViolation(ALREADY_RESERVED)


def reserve_ticket(
    bind: sa.Engine | Session, *, buyer_id: str, ticket_id: Any, now: datetime
) -> OrderWithTicket:
    """Create an order and lock the ticket in one transaction; of concurrent buyers one wins.

    Runs on Core rows over an engine (a session's, if given one): in a rush most attempts are
    refusals, and an ORM session's bookkeeping — even opening and closing one — was a large
    part of a refusal's cost."""
    if not is_uuid(ticket_id):
        raise NotFound(TICKET_NOT_FOUND)
    ticket_id = ticket_id.lower()
    engine = bind if isinstance(bind, sa.Engine) else bind.get_bind()
    assert isinstance(engine, sa.Engine)
    # Refuse a plainly taken ticket from a read first: one round trip in autocommit on
    # PostgreSQL (no BEGIN/ROLLBACK) and, on SQLite, a WAL snapshot instead of queueing for
    # the single write lock just to say no. The transaction below decides for the rest.
    params = {"ticket_id": ticket_id, "now": now}
    _refuse_plainly_refused(_PLAIN_REFUSAL_READ.first(engine, params), buyer_id)
    try:
        with engine.begin() as conn:
            result, _events = _reserve_on(conn, buyer_id=buyer_id, ticket_id=ticket_id, now=now)
    except IntegrityError:  # the one-active-order index: another buyer won
        raise RuleViolation(ALREADY_RESERVED) from None
    return result


def _reserve_on(
    conn: sa.Connection, *, buyer_id: str, ticket_id: str, now: datetime
) -> tuple[OrderWithTicket, list[outbox.Event]]:
    """One reservation transaction: the new order with its ticket, and the events written."""
    events: list[outbox.Event] = []
    order_id = new_id()
    lock = {"ticket_id": ticket_id, "order_id": order_id, "buyer_id": buyer_id, "now": now}
    # The conditional UPDATE decides (checked by row count). It goes first: the read before
    # this transaction already refused most taken tickets, so here it mostly wins, and
    # RETURNING gives the ticket's new version, price and title without a read.
    for _ in range(3):
        locked = conn.execute(_LOCK_TICKET, lock).first()
        if locked is not None:
            break
        # Not available to this buyer when the UPDATE looked: find out why, in this transaction.
        row = conn.execute(_TICKET_AND_HOLDER, {"ticket_id": ticket_id}).first()
        held = row is not None and row.holder_status == ACTIVE and row.holder_expires_at > now
        _refuse_plainly_refused(row and (row.user_id, row.status, held), buyer_id)
        assert row is not None
        if row.status == "reserved" and row.holder_status == ACTIVE:
            # Rule 5: a hold past due (one not due was refused above) is expired here,
            # whether or not a timer fired, in this transaction; then the ticket is free.
            events += _expire_on(conn, [row.order_id], now)[1]
        # Otherwise it was released after the UPDATE looked (PostgreSQL: another transaction
        # committed in between): lock again.
    else:
        raise _refusal_for(_current_status(conn, ticket_id))
    ticket = Ticket(**locked._mapping)
    order = Order(
        id=order_id,
        user_id=buyer_id,
        ticket_id=ticket_id,
        price_cents=ticket.price_cents,  # the locked row's price, even if repriced
        status=ACTIVE,
        expires_at=now + lock_window(),
        failed_payment_attempts=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    conn.execute(_INSERT_ORDER, order.model_dump())
    events += outbox.write_rows(
        conn,
        [
            _order_event("OrderCreated", order, ticketTitle=ticket.title),
            ticket_event("TicketUpdated", ticket),
        ],
        now=now,
    )
    return OrderWithTicket(order=order, ticket=ticket), events


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
    PostgreSQL (bench/bench_expiry.py, docs/performance.md)."""
    with db.begin():
        due = (
            sa.select(_ORDERS.c.id)
            .where(_ORDERS.c.status == ACTIVE, _ORDERS.c.expires_at <= now)
            .order_by(_ORDERS.c.expires_at)
            .limit(limit)
            # PostgreSQL: concurrent batches (timers, the sweep) take disjoint rows instead of
            # deadlocking on each other's; a skipped order is another transaction's to end.
            .with_for_update(skip_locked=True)
        )
        ended, _events = _expire_on(db.connection(), due.scalar_subquery(), now)
    return ended


def _expire_on(
    conn: sa.Connection, which: Any, now: datetime
) -> tuple[list[str], list[outbox.Event]]:
    """Expire the active, past-due orders among `which` (ids or a subquery of ids) and put
    their tickets back on sale, with their events. The conditions are those of
    `end_order`/`release_ticket`, so a concurrent cancel or payment still wins or loses each
    row cleanly (row locks, then the WHERE is re-checked)."""
    ended = [
        Order(**row._mapping)
        for row in conn.execute(
            sa.update(_ORDERS)
            .where(
                _ORDERS.c.id.in_(which),
                _ORDERS.c.status == ACTIVE,
                _ORDERS.c.expires_at <= now,
            )
            .values(status="expired", version=_ORDERS.c.version + 1, updated_at=now)
            .returning(*_ORDERS.c)
        )
    ]
    if not ended:
        return [], []
    released = conn.execute(
        sa.update(_TICKETS)
        .where(_TICKETS.c.order_id.in_([o.id for o in ended]), _TICKETS.c.status == "reserved")
        .values(status="available", order_id=None, version=_TICKETS.c.version + 1, updated_at=now)
        .returning(*_TICKETS.c)
    )
    news = [_order_event("OrderExpired", order) for order in ended]
    news += [ticket_event("TicketUpdated", Ticket(**row._mapping)) for row in released]
    return [o.id for o in ended], outbox.write_rows(conn, news, now=now)


def next_expiry(db: Session) -> datetime | None:
    with db.begin():
        return db.exec(select(sa.func.min(Order.expires_at)).where(Order.status == ACTIVE)).one()


def get_order(db: Session, *, user_id: str, order_id: Any) -> OrderWithTicket:
    with db.begin():
        order = _own_order(db, user_id, order_id)
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
