"""Every change of an order's state, with the ticket change that goes with it — one function
each, used by every caller (pages, API, webhook, scheduler):

- `reserve`: lock an available ticket and create its order;
- `end_orders`: an active order becomes cancelled or expired, and its ticket goes back on sale
  (the buyer's cancel, expiry by timer or sweep, the third decline, and the release when a
  payment arrives for a reservation that has ended);
- `complete`: a paid order completes and its ticket is sold;
- `withdraw_listings`: available tickets leave the market with a reason the seller is shown
  (an event's start; later an operator);
- `revoke_e_tickets`: completed orders' e-ticket codes stop being valid (a refund of a
  completed order: whoever refunds one calls it in the transaction that records the refund);
- `refund_completed`: completed orders are refunded in full (an operator's refund, an event's
  cancellation): e-ticket revoked, order cancelled, ticket off the market, refund claimed;
- `cap_holds`: active reservations of an event end no later than its (moved) start.

Each runs Core statements on the caller's open transaction (`conn`), decides by conditional
UPDATEs checked by row count (the Python around them only picks the message), and writes its
domain events in that transaction; they reach the in-process handlers after it commits.
Core rows rather than ORM entities: in a rush most reservation attempts are refusals, and the
ORM's per-attempt Python was most of their cost (bench/bench_reserve.py, docs/performance.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ticketing_app import outbox
from ticketing_app.db import DriverQuery
from ticketing_app.errors import NotFound, RuleViolation
from ticketing_app.models import (
    WITHDRAWN_REASON_MAX,
    Charge,
    ChargeStatus,
    Event,
    EventStatus,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
    User,
    UTCDateTime,
    new_id,
)
from ticketing_app.services import fees, ledger, messages
from ticketing_app.services.messages import (
    ALREADY_RESERVED,
    OWN_TICKET,
    TICKET_NOT_FOR_SALE,
    TICKET_NOT_FOUND,
    TICKET_SOLD,
)
from ticketing_app.services.validation import price_number
from ticketing_app.services.views import iso, ticket_view
from ticketing_app.settings import get_settings

ACTIVE = OrderStatus.CREATED
ENDINGS = {OrderStatus.CANCELLED: "OrderCancelled", OrderStatus.EXPIRED: "OrderExpired"}


class Moved(Exception):
    """A row changed between the caller's read and this conditional write: read again."""


@dataclass(frozen=True)
class OrderWithTicket:
    order: Order
    ticket: Ticket


def lock_window() -> timedelta:
    return timedelta(seconds=get_settings().ticketing_lock_seconds)


def ticket_event(type: str, ticket: Ticket, **extra: Any) -> outbox.NewEvent:
    payload = {**ticket_view(ticket), **extra}
    return outbox.NewEvent(type, "ticket", ticket.id, ticket.version, payload)


def order_event(type: str, order: Order, **extra: Any) -> outbox.NewEvent:
    payload = {
        "id": order.id,
        "userId": order.user_id,
        "ticketId": order.ticket_id,
        "price": price_number(order.price_cents),
        "fee": price_number(order.fee_cents),
        "total": price_number(order.total_cents),
        "sellerFee": price_number(order.seller_fee_cents),
        "status": order.status,
        "expiresAt": iso(order.expires_at),
        "version": order.version,
        # Whether a PaymentIntent was opened: lets the intent clean-up skip the other orders
        # without a read each (payment_upkeep.install_intent_canceller).
        "hasPaymentIntent": order.payment_intent_id is not None,
        **extra,
    }
    return outbox.NewEvent(type, "order", order.id, order.version, payload)


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
PLAIN_REFUSAL_READ = DriverQuery(
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
        _TICKETS.c.status == TicketStatus.AVAILABLE,
        _TICKETS.c.user_id != sa.bindparam("buyer_id"),  # never one's own ticket
    )
    .values(
        status=TicketStatus.RESERVED,
        order_id=sa.bindparam("order_id"),
        version=_TICKETS.c.version + 1,
        updated_at=sa.bindparam("now"),
    )
    .returning(*_TICKETS.c)
)
_INSERT_ORDER = sa.insert(_ORDERS)
_EVENTS = Event.__table__
_USERS = User.__table__
# The buyer's row, locked (PostgreSQL) before counting what the buyer holds, so that two
# reservations by one buyer count one after the other: the limits are exact.
_LOCK_BUYER = (
    sa.select(_USERS.c.id).where(_USERS.c.id == sa.bindparam("buyer_id")).with_for_update()
)
# The event's start and status; share-locked on PostgreSQL so it cannot be cancelled or
# moved until this reservation commits.
_EVENT_OF_TICKET = (
    sa.select(_EVENTS.c.starts_at, _EVENTS.c.status)
    .where(_EVENTS.c.id == sa.bindparam("event_id"))
    .with_for_update(read=True)
)
_HOLDING = sa.and_(
    _ORDERS.c.user_id == sa.bindparam("buyer_id"),
    _ORDERS.c.status == ACTIVE,
    _ORDERS.c.expires_at > sa.bindparam("now", type_=UTCDateTime),
)
# When this buyer's last reservation of this ticket ended unpaid: an expired one at its
# expires_at (however late the sweep marked it), a cancelled one when it was cancelled.
_ENDED_AT = sa.case(
    (_ORDERS.c.status == OrderStatus.EXPIRED, _ORDERS.c.expires_at), else_=_ORDERS.c.updated_at
)
# What the buyer already has, in one statement: live holds, holds or purchases for this
# ticket's event, and when their last hold of this ticket ended unpaid.
_BUYER_COUNTS = sa.select(
    sa.select(sa.func.count()).where(_HOLDING).scalar_subquery().label("holds"),
    sa.select(sa.func.count())
    .select_from(_ORDERS.join(_TICKETS, _TICKETS.c.id == _ORDERS.c.ticket_id))
    .where(
        _ORDERS.c.user_id == sa.bindparam("buyer_id"),
        _TICKETS.c.event_id == sa.bindparam("event_id"),
        sa.or_(
            _ORDERS.c.status == OrderStatus.COMPLETE,
            sa.and_(
                _ORDERS.c.status == ACTIVE,
                _ORDERS.c.expires_at > sa.bindparam("now", type_=UTCDateTime),
            ),
        ),
    )
    .scalar_subquery()
    .label("for_event"),
    sa.type_coerce(
        sa.select(sa.func.max(_ENDED_AT))
        .where(
            _ORDERS.c.ticket_id == sa.bindparam("ticket_id"),
            _ORDERS.c.user_id == sa.bindparam("buyer_id"),
            _ORDERS.c.status.in_((OrderStatus.CANCELLED, OrderStatus.EXPIRED)),
        )
        .scalar_subquery(),
        UTCDateTime,
    ).label("last_unpaid_end"),
)


def refusal_for(status: str) -> RuleViolation:
    """Why a ticket cannot be reserved, from its current status."""
    if status == TicketStatus.SOLD:
        return RuleViolation(TICKET_SOLD)
    if status == TicketStatus.CANCELLED:
        return RuleViolation(TICKET_NOT_FOR_SALE)
    return RuleViolation(ALREADY_RESERVED)


def refuse_plainly_refused(found: tuple[str, str, Any] | None, buyer_id: str) -> None:
    """Raise the refusal that (seller, status, held and not due) already decides."""
    if found is None:
        raise NotFound(TICKET_NOT_FOUND)
    seller_id, status, held = found
    if seller_id == buyer_id:
        raise RuleViolation(OWN_TICKET)
    if status in (TicketStatus.SOLD, TicketStatus.CANCELLED):
        raise refusal_for(status)
    if status == TicketStatus.RESERVED and held:
        raise RuleViolation(ALREADY_RESERVED)


def reserve(
    conn: sa.Connection,
    *,
    buyer_id: str,
    ticket_id: str,
    now: datetime,
    expected_price_cents: int | None = None,
) -> OrderWithTicket:
    """Lock the ticket for `buyer_id` and create the order (rule 4). Raises the refusal (the
    caller's transaction then rolls back: nothing is reserved); an IntegrityError from the
    one-active-order index means another buyer won.

    Refused after the lock, in this transaction: a price other than `expected_price_cents`
    (what the buyer saw); an event that has started or was cancelled; a buyer over the
    hoarding limits; a buyer whose own reservation of this ticket ended unpaid less than the
    cooldown ago (no hold renewed forever by cancelling and reserving again). The hold ends
    at the lock window or the event's start, whichever comes first."""
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
        refuse_plainly_refused(row and (row.user_id, row.status, held), buyer_id)
        assert row is not None
        if row.status == TicketStatus.RESERVED and row.holder_status == ACTIVE:
            # Rule 5: a hold past due (one not due was refused above) is expired here,
            # whether or not a timer fired, in this transaction; then the ticket is free.
            end_orders(conn, [row.order_id], OrderStatus.EXPIRED, now)
        # Otherwise it was released after the UPDATE looked (PostgreSQL: another transaction
        # committed in between): lock again.
    else:
        raise refusal_for(conn.execute(_TICKET_STATUS, {"ticket_id": ticket_id}).scalar_one())
    ticket = Ticket(**locked._mapping)
    if expected_price_cents is not None and ticket.price_cents != expected_price_cents:
        raise RuleViolation(
            messages.price_changed(f"{ticket.price_cents / 100:.2f}"), "expectedPrice"
        )
    expires_at = now + lock_window()
    if ticket.event_id is not None:
        expires_at = min(expires_at, _refuse_ended_event(conn, ticket.event_id, now))
    _refuse_over_limits(conn, buyer_id=buyer_id, ticket=ticket, now=now)
    # SPEC §12: the fees at this moment are the order's for good (a later change of the
    # percentages never changes what this buyer was shown and pays).
    money = fees.breakdown(ticket.price_cents)  # the locked row's price, even if repriced
    order = Order(
        id=order_id,
        user_id=buyer_id,
        ticket_id=ticket_id,
        price_cents=money.price_cents,
        fee_cents=money.fee_cents,
        seller_fee_cents=money.seller_fee_cents,
        total_cents=money.total_cents,
        status=ACTIVE,
        expires_at=expires_at,
        failed_payment_attempts=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    conn.execute(_INSERT_ORDER, order.model_dump())
    outbox.write_rows(
        conn,
        [
            order_event("OrderCreated", order, ticketTitle=ticket.title),
            ticket_event("TicketUpdated", ticket),
        ],
        now=now,
    )
    return OrderWithTicket(order=order, ticket=ticket)


def _refuse_ended_event(conn: sa.Connection, event_id: str, now: datetime) -> datetime:
    """The event's start, unless it has started or was cancelled (then the refusal)."""
    starts_at, status = conn.execute(_EVENT_OF_TICKET, {"event_id": event_id}).one()
    if status == EventStatus.CANCELLED:
        raise RuleViolation(messages.EVENT_CANCELLED)
    if starts_at <= now:
        raise RuleViolation(messages.EVENT_STARTED)
    return starts_at


def _refuse_over_limits(
    conn: sa.Connection, *, buyer_id: str, ticket: Ticket, now: datetime
) -> None:
    """The hoarding limits and the re-reserve cooldown, counted after the buyer's row is
    locked, in this transaction (SQLite: BEGIN IMMEDIATE already serialises writers). Run
    after the ticket lock, so refusals that the lock decides never queue for the buyer's row,
    and so on PostgreSQL this snapshot includes any cancel or expiry of this buyer's hold
    that committed before the ticket came free (the UPDATE waited for it): cancelling and
    reserving at once cannot slip past the cooldown."""
    settings = get_settings()
    max_holds = settings.ticketing_max_active_orders
    max_for_event = settings.ticketing_max_tickets_per_event
    cooldown = timedelta(seconds=settings.rehold_cooldown_seconds)
    params = {"buyer_id": buyer_id, "ticket_id": ticket.id, "event_id": ticket.event_id, "now": now}
    if conn.dialect.name == "postgresql" and (max_holds or max_for_event):
        conn.execute(_LOCK_BUYER, params)
    holds, for_event, last_unpaid_end = conn.execute(_BUYER_COUNTS, params).one()
    if cooldown and last_unpaid_end is not None and last_unpaid_end + cooldown > now:
        until = last_unpaid_end + cooldown
        raise RuleViolation(
            messages.rehold_cooldown((until - now).total_seconds(), until.strftime("%H:%M UTC"))
        )
    if max_holds and holds >= max_holds:
        raise RuleViolation(messages.too_many_holds(max_holds))
    if max_for_event and ticket.event_id is not None and for_event >= max_for_event:
        raise RuleViolation(messages.too_many_for_event(max_for_event))


def end_orders(
    conn: sa.Connection,
    which: Iterable[str] | Any,
    status: OrderStatus,
    now: datetime,
    **extra: Any,
) -> list[Order]:
    """End the active orders among `which` (ids, or a subquery of ids) as `status` —
    CANCELLED, or EXPIRED (then only those past due) — and put their tickets back on sale,
    each only while that order is the one holding it (rule 6). Returns the orders ended; an
    order that a concurrent cancel, payment or expiry ended first is skipped (row locks, then
    the WHERE is re-checked). `extra` goes into each order event (e.g. `reason`)."""
    conditions = [_ORDERS.c.id.in_(which), _ORDERS.c.status == ACTIVE]
    if status == OrderStatus.EXPIRED:
        conditions.append(_ORDERS.c.expires_at <= now)
    ended = [
        Order(**row._mapping)
        for row in conn.execute(
            sa.update(_ORDERS)
            .where(*conditions)
            .values(status=status, version=_ORDERS.c.version + 1, updated_at=now)
            .returning(*_ORDERS.c)
        )
    ]
    if not ended:
        return []
    released = _move_tickets(
        conn,
        [
            _TICKETS.c.order_id.in_([o.id for o in ended]),
            _TICKETS.c.status == TicketStatus.RESERVED,
        ],
        now,
        status=TicketStatus.AVAILABLE,
        order_id=None,
    )
    news = [order_event(ENDINGS[status], order, **extra) for order in ended]
    news += [ticket_event("TicketUpdated", ticket) for ticket in released]
    outbox.write_rows(conn, news, now=now)
    return ended


def new_e_ticket_code() -> str:
    """An e-ticket verification code: 144 random bits, URL-safe (24 characters)."""
    return secrets.token_urlsafe(18)


def complete(
    conn: sa.Connection, *, order_id: str, payment_intent_id: str, now: datetime, **extra: Any
) -> OrderWithTicket:
    """The order is paid: it completes and its ticket is sold (rule 7), exactly once, and it
    gets a fresh e-ticket code (SPEC §10) and the seller's ledger its pending proceeds
    (SPEC §12); any earlier completed order of the same ticket
    (a resale) loses its code's validity. Raises Moved if the order is no longer active or no
    longer holds its ticket (the caller's transaction then rolls back and reads again)."""
    row = conn.execute(
        sa.update(_ORDERS)
        .where(_ORDERS.c.id == order_id, _ORDERS.c.status == ACTIVE)
        .values(
            status=OrderStatus.COMPLETE,
            e_ticket_code=new_e_ticket_code(),
            payment_intent_id=payment_intent_id,
            version=_ORDERS.c.version + 1,
            updated_at=now,
        )
        .returning(*_ORDERS.c)
    ).first()
    if row is None:
        raise Moved
    order = Order(**row._mapping)
    sold = _move_tickets(
        conn,
        [
            _TICKETS.c.id == order.ticket_id,
            _TICKETS.c.order_id == order.id,
            _TICKETS.c.status == TicketStatus.RESERVED,
        ],
        now,
        status=TicketStatus.SOLD,
        order_id=None,
    )
    if not sold:
        raise Moved
    (ticket,) = sold
    # SPEC §12: the seller's proceeds, pending, in this transaction (exactly once with it).
    ledger.record_sale(conn, order=order, seller_id=ticket.user_id, now=now)
    earlier_sales = sa.select(_ORDERS.c.id).where(
        _ORDERS.c.ticket_id == order.ticket_id, _ORDERS.c.id != order.id
    )
    revoke_e_tickets(conn, earlier_sales, now)  # a resale: the last buyer's code is the one
    outbox.write_rows(
        conn,
        [order_event("OrderCompleted", order, **extra), ticket_event("TicketUpdated", ticket)],
        now=now,
    )
    return OrderWithTicket(order=order, ticket=ticket)


def withdraw_listings(
    conn: sa.Connection, which: Iterable[str] | Any, reason: str, now: datetime
) -> list[Ticket]:
    """Take the available tickets among `which` (ids, or a select of ids) off the market:
    `cancelled`, with `reason` for the seller, and their TicketCancelled events. Only while
    available (a reserved ticket finishes its reservation first); returns those withdrawn."""
    withdrawn = _move_tickets(
        conn,
        [_TICKETS.c.id.in_(which), _TICKETS.c.status == TicketStatus.AVAILABLE],
        now,
        status=TicketStatus.CANCELLED,
        withdrawn_reason=reason,
    )
    outbox.write_rows(conn, [ticket_event("TicketCancelled", t) for t in withdrawn], now=now)
    return withdrawn


def _move_tickets(
    conn: sa.Connection, where: list[Any], now: datetime, **values: Any
) -> list[Ticket]:
    """The one shape of every ticket change here: a conditional UPDATE (`where` decides, row
    by row) that bumps the version, returning the tickets it changed."""
    return [
        Ticket(**row._mapping)
        for row in conn.execute(
            sa.update(_TICKETS)
            .where(*where)
            .values(**values, version=_TICKETS.c.version + 1, updated_at=now)
            .returning(*_TICKETS.c)
        )
    ]


def revoke_e_tickets(conn: sa.Connection, which: Iterable[str] | Any, now: datetime) -> list[str]:
    """The e-tickets of the completed orders among `which` (ids, or a select of ids) stop
    being valid: their codes no longer verify, their PDFs and the seller's file are no longer
    served to the buyer. For a refund of a completed order, in the transaction that records
    it (the refunding flow writes its own ChargeRefunded event). Idempotent; returns the ids
    of the orders whose code was valid until now."""
    return list(
        conn.execute(
            sa.update(_ORDERS)
            .where(
                _ORDERS.c.id.in_(which),
                _ORDERS.c.status == OrderStatus.COMPLETE,
                _ORDERS.c.e_ticket_revoked_at.is_(None),
            )
            .values(e_ticket_revoked_at=now)
            .returning(_ORDERS.c.id)
        ).scalars()
    )


@dataclass(frozen=True)
class RefundClaim:
    """A charge whose refund this transaction claimed; refunded at Stripe after it commits
    (settlement.refund_claims), or by the refund sweep if the process dies first."""

    charge_id: str
    order_id: str
    payment_intent_id: str
    amount_cents: int


REFUNDED = "refunded"  # the `reason` of the OrderCancelled that a refund of a sale writes


def refund_completed(
    conn: sa.Connection, which: Iterable[str] | Any, reason: str, now: datetime
) -> list[RefundClaim]:
    """THE state change of refunding sales in full (an operator's refund of one order, an
    event's cancellation): each completed order among `which` loses its e-ticket, becomes
    `cancelled` (the refund sweep and the order page know a refunded sale by status cancelled
    with its e-ticket revoked), its ticket leaves the market (`cancelled`, `reason` for the
    seller: a refunded ticket is not put back on sale), and its succeeded charge is claimed
    for a refund of the whole charge (`updated_at` = now: settlement's claim lease). Decided by
    the conditional UPDATE of the order (status complete), so a second refund of the same order
    claims nothing. Returns the claims; the caller refunds them AFTER its commit."""
    orders = _ORDERS
    # The ids first: `which` may be a select that the revocation below changes the answer of.
    ids = list(
        conn.execute(
            sa.select(orders.c.id).where(
                orders.c.id.in_(which), orders.c.status == OrderStatus.COMPLETE
            )
        ).scalars()
    )
    if not ids:
        return []
    revoked = set(revoke_e_tickets(conn, ids, now))
    refunded = [
        Order(**row._mapping)
        for row in conn.execute(
            sa.update(orders)
            .where(orders.c.id.in_(ids), orders.c.status == OrderStatus.COMPLETE)
            .values(status=OrderStatus.CANCELLED, version=orders.c.version + 1, updated_at=now)
            .returning(*orders.c)
        )
    ]
    if not refunded:
        return []
    # The ticket leaves the market only for the sale that holds it now (an earlier sale of a
    # resold ticket had its e-ticket revoked by the resale already).
    current = [o.ticket_id for o in refunded if o.id in revoked]
    withdrawn = _move_tickets(
        conn,
        [_TICKETS.c.id.in_(current), _TICKETS.c.status == TicketStatus.SOLD],
        now,
        status=TicketStatus.CANCELLED,
        withdrawn_reason=reason[:WITHDRAWN_REASON_MAX],
    )
    charges = Charge.__table__
    claims = [
        RefundClaim(row.id, row.order_id, row.stripe_id, row.amount_cents)
        for row in conn.execute(
            sa.update(charges)
            .where(
                charges.c.order_id.in_([o.id for o in refunded]),
                charges.c.status == ChargeStatus.SUCCEEDED,
                charges.c.stripe_id.in_([o.payment_intent_id for o in refunded]),
            )
            .values(updated_at=now)
            .returning(
                charges.c.id, charges.c.order_id, charges.c.stripe_id, charges.c.amount_cents
            )
        )
    ]
    # The seller ledger (SPEC §12: "a refund reverses its entry"), in this same transaction:
    # once the refund is claimed, the proceeds can no longer be paid out, whatever Stripe's
    # answer takes (a claim is always finished: settlement.refund_claims and the retry sweep).
    for order in refunded:
        ledger.reverse_sale(conn, order.id, now)
    news = [
        # hasPaymentIntent False: the intent succeeded, there is nothing to cancel at Stripe
        # (payment_upkeep's clean-up skips it); the refund claim returns the money.
        order_event("OrderCancelled", o, reason=REFUNDED, hasPaymentIntent=False)
        for o in refunded
    ]
    news += [ticket_event("TicketCancelled", t) for t in withdrawn]
    outbox.write_rows(conn, news, now=now)
    return claims


def cap_holds(
    conn: sa.Connection, event_id: str, starts_at: datetime, now: datetime
) -> list[Order]:
    """A reservation never outlives its event (SPEC §9): when an event's start moves earlier,
    its active reservations that would end after the new start end at it. Each gets an
    OrderUpdated (the expiry timer is re-set, the order page's countdown follows)."""
    of_event = sa.select(_TICKETS.c.id).where(_TICKETS.c.event_id == event_id)
    capped = [
        Order(**row._mapping)
        for row in conn.execute(
            sa.update(_ORDERS)
            .where(
                _ORDERS.c.ticket_id.in_(of_event),
                _ORDERS.c.status == ACTIVE,
                _ORDERS.c.expires_at > starts_at,
            )
            .values(expires_at=starts_at, version=_ORDERS.c.version + 1, updated_at=now)
            .returning(*_ORDERS.c)
        )
    ]
    outbox.write_rows(conn, [order_event("OrderUpdated", o) for o in capped], now=now)
    return capped
