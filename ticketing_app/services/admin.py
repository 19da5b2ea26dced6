"""What operators do (SPEC §12): suspend and reinstate users, withdraw a listing, edit and
cancel an event, refund a completed order.

Each action takes the operator (`auth.SignedIn`, re-checked here with
`operators.require_operator`, whoever the caller is) and a reason (`operators.clean_reason`),
acts through the same transitions everyone else's changes use (`transitions.withdraw_listings`,
`end_orders`, `refund_completed`, `cap_holds`), and writes its audit row in the SAME
transaction, so the row exists exactly when the change does. Refunds follow settlement's
claim-then-refund pattern: the claims commit with the change, Stripe is asked after the commit
(never inside a transaction), with one idempotency key per charge, and the refund sweep
(payment_upkeep.retry_pending_refunds) finishes any claim a crash or a Stripe outage left open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from ticketing_app import outbox
from ticketing_app.errors import NotFound, RuleViolation, ValidationError
from ticketing_app.models import (
    EVENT_CITY_MAX,
    EVENT_NAME_MAX,
    EVENT_VENUE_MAX,
    WITHDRAWN_REASON_MAX,
    AuthSession,
    Event,
    EventStatus,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
    User,
)
from ticketing_app.services import events as events_service
from ticketing_app.services import operators, settlement, transitions
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.validation import is_uuid, parse_text
from ticketing_app.services.views import event_view

log = logging.getLogger(__name__)

USER_NOT_FOUND = "User not found"
ORDER_NOT_FOUND = "Order not found"
TICKET_NOT_FOUND = "Ticket not found"
ALREADY_SUSPENDED = "This account is already suspended"
NOT_SUSPENDED = "This account is not suspended"
NOT_YOURSELF = "You cannot suspend your own account"
TICKET_SOLD = "This ticket has been sold: refund its order instead"
TICKET_GONE = "This listing is already off the market"
EVENT_ALREADY_CANCELLED = "This event is already cancelled"
EVENT_ENDED = "This event has already started, so it can no longer be changed"
EVENT_TAKEN = "Another event already has this name, venue and start"
ORDER_NOT_COMPLETE = "Only a completed (paid) order can be refunded"
ORDER_NOT_PAID = "This order has no payment to refund"
# The `reason` in the order events of reservations an operator's action ended (the buyer's
# email says why, services/notifications.py).
SUSPENDED_BUYER, SUSPENDED_SELLER = "buyer_suspended", "seller_suspended"
LISTING_WITHDRAWN, EVENT_CANCELLED = "listing_withdrawn", "event_cancelled"

_USERS = User.__table__
_TICKETS = Ticket.__table__
_ORDERS = Order.__table__
_EVENTS = Event.__table__
_SESSIONS = AuthSession.__table__
_ATTEMPTS = 3
T = TypeVar("T")


def _seller_reason(prefix: str, reason: str) -> str:
    """What the seller sees on a withdrawn listing (tickets.withdrawn_reason, 200 characters)."""
    return f"{prefix}: {reason}"[:WITHDRAWN_REASON_MAX]


def _get(db: Session, model: Any, row_id: Any, message: str) -> Any:
    found = db.get(model, row_id.lower(), populate_existing=True) if is_uuid(row_id) else None
    if found is None:
        raise NotFound(message)
    return found


def _retrying(db: Session, step: Callable[[], T]) -> T:
    """Run `step` in a write transaction, again if PostgreSQL broke a deadlock with a
    reservation taking the same rows in the other order (ticket, then event)."""
    for attempt in range(_ATTEMPTS):
        try:
            with db.begin():
                return step()
        except OperationalError as exc:
            if "deadlock" not in str(exc).lower() or attempt == _ATTEMPTS - 1:
                raise
            log.info("operator action retried after a deadlock")
    raise AssertionError("unreachable")


def _user_updated(conn: sa.Connection, user: Any, change: str, now: datetime) -> None:
    outbox.write_rows(
        conn,
        [
            outbox.NewEvent(
                "UserUpdated",
                "user",
                user.id,
                user.version,
                {"id": user.id, "email": user.email, "change": change},
            )
        ],
        now=now,
    )


# -- users ----------------------------------------------------------------------------------
def suspend_user(
    db: Session, *, operator: SignedIn | None, user_id: Any, reason: Any, now: datetime
) -> User:
    """Suspend a user: no sign-in (auth.signin refuses, every session lookup ignores them),
    every session revoked, their reservations cancelled, and their listings off the market —
    also those another buyer holds: that reservation is cancelled first (docs/decisions.md),
    so no ticket of a suspended seller is ever sold or put back on sale. Completed sales
    stand (an operator refunds them one by one if need be)."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)

    def step() -> User:
        user = _get(db, User, user_id, USER_NOT_FOUND)
        if user.id == operator.id:
            raise RuleViolation(NOT_YOURSELF)
        conn = db.connection()
        row = conn.execute(
            sa.update(_USERS)
            .where(_USERS.c.id == user.id, _USERS.c.suspended_at.is_(None))
            .values(suspended_at=now, version=_USERS.c.version + 1, updated_at=now)
            .returning(*_USERS.c)
        ).first()
        if row is None:
            raise RuleViolation(ALREADY_SUSPENDED)
        sessions = conn.execute(
            sa.update(_SESSIONS)
            .where(_SESSIONS.c.user_id == user.id, _SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        own_holds = sa.select(_ORDERS.c.id).where(_ORDERS.c.user_id == user.id)
        as_buyer = transitions.end_orders(
            conn, own_holds, OrderStatus.CANCELLED, now, reason=SUSPENDED_BUYER
        )
        listings = sa.select(_TICKETS.c.id).where(_TICKETS.c.user_id == user.id)
        held = sa.select(_TICKETS.c.order_id).where(
            _TICKETS.c.user_id == user.id, _TICKETS.c.status == TicketStatus.RESERVED
        )
        as_seller = transitions.end_orders(
            conn, held, OrderStatus.CANCELLED, now, reason=SUSPENDED_SELLER
        )
        withdrawn = transitions.withdraw_listings(
            conn, listings, _seller_reason("Your account was suspended", reason), now
        )
        _user_updated(conn, row, "suspended", now)
        operators.audit(
            conn,
            operator_id=operator.id,
            action="user.suspend",
            target_type="user",
            target_id=user.id,
            reason=reason,
            now=now,
            email=user.email,
            sessionsRevoked=sessions,
            reservationsCancelled=len(as_buyer),
            heldListingsReleased=len(as_seller),
            listingsWithdrawn=[t.id for t in withdrawn],
        )
        return User(**row._mapping)

    return _retrying(db, step)


def reinstate_user(
    db: Session, *, operator: SignedIn | None, user_id: Any, reason: Any, now: datetime
) -> User:
    """Lift a suspension: the user may sign in again. Withdrawn listings stay withdrawn (the
    seller lists again what they still want to sell)."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)
    with db.begin():
        user = _get(db, User, user_id, USER_NOT_FOUND)
        conn = db.connection()
        row = conn.execute(
            sa.update(_USERS)
            .where(_USERS.c.id == user.id, _USERS.c.suspended_at.is_not(None))
            .values(suspended_at=None, version=_USERS.c.version + 1, updated_at=now)
            .returning(*_USERS.c)
        ).first()
        if row is None:
            raise RuleViolation(NOT_SUSPENDED)
        _user_updated(conn, row, "reinstated", now)
        operators.audit(
            conn,
            operator_id=operator.id,
            action="user.reinstate",
            target_type="user",
            target_id=user.id,
            reason=reason,
            now=now,
            email=user.email,
        )
        return User(**row._mapping)


# -- listings -------------------------------------------------------------------------------
def withdraw_listing(
    db: Session, *, operator: SignedIn | None, ticket_id: Any, reason: Any, now: datetime
) -> Ticket:
    """Take a listing off the market with a reason its seller is told (email and in-app, from
    its TicketCancelled). A reserved ticket's reservation is cancelled first (the buyer is
    told); a sold ticket is refused: refund its order instead."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)

    def step() -> Ticket:
        ticket = _get(db, Ticket, ticket_id, TICKET_NOT_FOUND)
        if ticket.status == TicketStatus.SOLD:
            raise RuleViolation(TICKET_SOLD)
        if ticket.status == TicketStatus.CANCELLED:
            raise RuleViolation(TICKET_GONE)
        conn = db.connection()
        held = sa.select(_TICKETS.c.order_id).where(
            _TICKETS.c.id == ticket.id, _TICKETS.c.status == TicketStatus.RESERVED
        )
        ended = transitions.end_orders(
            conn, held, OrderStatus.CANCELLED, now, reason=LISTING_WITHDRAWN
        )
        withdrawn = transitions.withdraw_listings(
            conn, [ticket.id], _seller_reason("Withdrawn by an operator", reason), now
        )
        if not withdrawn:  # sold or withdrawn between the read and the UPDATE
            raise RuleViolation(TICKET_GONE)
        operators.audit(
            conn,
            operator_id=operator.id,
            action="ticket.withdraw",
            target_type="ticket",
            target_id=ticket.id,
            reason=reason,
            now=now,
            title=ticket.title,
            sellerId=ticket.user_id,
            reservationCancelled=ended[0].id if ended else None,
        )
        return withdrawn[0]

    return _retrying(db, step)


# -- events ---------------------------------------------------------------------------------
def _event_updated(conn: sa.Connection, event: Event, now: datetime, **extra: Any) -> None:
    payload = {**event_view(event), "createdBy": event.created_by, "version": event.version}
    outbox.write_rows(
        conn,
        [outbox.NewEvent("EventUpdated", "event", event.id, event.version, {**payload, **extra})],
        now=now,
    )


def edit_event(
    db: Session,
    *,
    operator: SignedIn | None,
    event_id: Any,
    reason: Any,
    now: datetime,
    name: Any = None,
    venue: Any = None,
    city: Any = None,
    starts_at: Any = None,
) -> Event:
    """Change an upcoming event's name, venue, city or start (None keeps a field). A start
    moved earlier caps its running reservations at the new start (`transitions.cap_holds`);
    the EventUpdated written here re-arms the event-start timer (jobs/event_start.py), so the
    listings leave the market at the new start."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)
    try:
        with db.begin():
            event = _get(db, Event, event_id, events_service.EVENT_NOT_FOUND)
            if event.status == EventStatus.CANCELLED:
                raise RuleViolation(EVENT_ALREADY_CANCELLED)
            if event.starts_at <= now:
                raise RuleViolation(EVENT_ENDED)
            changes = {
                "name": parse_text(name, "name", "Name", EVENT_NAME_MAX)
                if name is not None
                else event.name,
                "venue": parse_text(venue, "venue", "Venue", EVENT_VENUE_MAX)
                if venue is not None
                else event.venue,
                "city": parse_text(city, "city", "City", EVENT_CITY_MAX)
                if city is not None
                else event.city,
                "starts_at": events_service.parse_starts_at(starts_at, now)
                if starts_at is not None
                else event.starts_at,
            }
            before = {k: getattr(event, k) for k in changes}
            if changes == before:
                raise ValidationError("Nothing to change: edit a field first")
            key = events_service.dedupe_key(changes["name"], changes["venue"], changes["starts_at"])
            conn = db.connection()
            row = conn.execute(
                sa.update(_EVENTS)
                .where(
                    _EVENTS.c.id == event.id,
                    _EVENTS.c.version == event.version,
                    _EVENTS.c.status == EventStatus.SCHEDULED,
                )
                .values(**changes, dedupe_key=key, version=_EVENTS.c.version + 1, updated_at=now)
                .returning(*_EVENTS.c)
            ).first()
            if row is None:
                raise RuleViolation("The event changed meanwhile: reload and try again")
            updated = Event(**row._mapping)
            capped = transitions.cap_holds(conn, updated.id, updated.starts_at, now)
            _event_updated(conn, updated, now, change="edited")
            operators.audit(
                conn,
                operator_id=operator.id,
                action="event.edit",
                target_type="event",
                target_id=updated.id,
                reason=reason,
                now=now,
                before={k: str(v) for k, v in before.items() if changes[k] != v},
                after={k: str(v) for k, v in changes.items() if before[k] != v},
                reservationsCapped=len(capped),
            )
    except IntegrityError:  # the unique dedupe key: another event has these already
        raise ValidationError(EVENT_TAKEN, "name") from None
    return updated


def cancel_event(
    db: Session, *, operator: SignedIn | None, event_id: Any, reason: Any, now: datetime
) -> Event:
    """Cancel an event: in ONE transaction it becomes `cancelled`, its listings leave the
    market, its running reservations are cancelled and its sales are refunded in full
    (`transitions.refund_completed`: refunds claimed, e-tickets revoked), with the audit row;
    then, after the commit, each claimed charge is refunded at Stripe. Cancelling twice (at
    once, or again later) changes nothing the second time: the conditional UPDATE of the
    event decides, and only the first claims refunds. A process that dies between the commit
    and Stripe leaves the claims open; the refund sweep finishes them after the claim lease.

    Lock order (PostgreSQL) as a reservation takes them: the event's tickets first, then the
    event row; a reservation that locked a ticket first finishes (and its order is then
    cancelled here), one arriving later finds the ticket withdrawn."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)

    def step() -> tuple[Event, list[transitions.RefundClaim]]:
        event = _get(db, Event, event_id, events_service.EVENT_NOT_FOUND)
        if event.status == EventStatus.CANCELLED:
            raise RuleViolation(EVENT_ALREADY_CANCELLED)
        conn = db.connection()
        tickets = sa.select(_TICKETS.c.id).where(_TICKETS.c.event_id == event.id)
        if conn.dialect.name == "postgresql":
            conn.execute(tickets.order_by(_TICKETS.c.id).with_for_update()).all()
        row = conn.execute(
            sa.update(_EVENTS)
            .where(_EVENTS.c.id == event.id, _EVENTS.c.status == EventStatus.SCHEDULED)
            .values(status=EventStatus.CANCELLED, version=_EVENTS.c.version + 1, updated_at=now)
            .returning(*_EVENTS.c)
        ).first()
        if row is None:  # a concurrent cancel committed first
            raise RuleViolation(EVENT_ALREADY_CANCELLED)
        cancelled = Event(**row._mapping)
        held = sa.select(_ORDERS.c.id).where(_ORDERS.c.ticket_id.in_(tickets))
        ended = transitions.end_orders(
            conn, held, OrderStatus.CANCELLED, now, reason=EVENT_CANCELLED
        )
        to_seller = _seller_reason("The event was cancelled", reason)
        withdrawn = transitions.withdraw_listings(conn, tickets, to_seller, now)
        sales = sa.select(_ORDERS.c.id).where(
            _ORDERS.c.ticket_id.in_(tickets),
            _ORDERS.c.status == OrderStatus.COMPLETE,
            _ORDERS.c.e_ticket_revoked_at.is_(None),
        )
        claims = transitions.refund_completed(conn, sales, to_seller, now)
        _event_updated(conn, cancelled, now, change="cancelled", reason=reason)
        operators.audit(
            conn,
            operator_id=operator.id,
            action="event.cancel",
            target_type="event",
            target_id=cancelled.id,
            reason=reason,
            now=now,
            name=cancelled.name,
            listingsWithdrawn=len(withdrawn),
            reservationsCancelled=len(ended),
            ordersRefunded=[c.order_id for c in claims],
        )
        return cancelled, claims

    cancelled, claims = _retrying(db, step)
    settlement.refund_claims(db, claims, now=now, message=_refund_message(reason))
    return cancelled


# -- orders ---------------------------------------------------------------------------------
def _refund_message(reason: str) -> str:
    return f"{settlement.REFUNDED_IN_FULL_MESSAGE}: {reason}"


def refund_order(
    db: Session, *, operator: SignedIn | None, order_id: Any, reason: Any, now: datetime
) -> Order:
    """Refund one completed order in full (the whole charge): its e-ticket stops verifying,
    the ticket leaves the market (not put back on sale: docs/decisions.md), the buyer is
    emailed once Stripe confirms. A second refund of the same order is refused."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)
    with db.begin():
        order = _get(db, Order, order_id, ORDER_NOT_FOUND)
        if order.status != OrderStatus.COMPLETE:
            raise RuleViolation(ORDER_NOT_COMPLETE)
        conn = db.connection()
        claims = transitions.refund_completed(
            conn, [order.id], _seller_reason("The sale was refunded", reason), now
        )
        if not claims:  # refunded meanwhile, or no succeeded charge to give back
            raise RuleViolation(ORDER_NOT_PAID)
        operators.audit(
            conn,
            operator_id=operator.id,
            action="order.refund",
            target_type="order",
            target_id=order.id,
            reason=reason,
            now=now,
            amountCents=claims[0].amount_cents,
            buyerId=order.user_id,
        )
    settlement.refund_claims(db, claims, now=now, message=_refund_message(reason))
    with db.begin():
        refreshed = db.get(Order, order.id, populate_existing=True)
    assert refreshed is not None
    return refreshed
