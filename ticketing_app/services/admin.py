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
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from ticketing_app import outbox
from ticketing_app.errors import NotFound, RuleViolation
from ticketing_app.models import (
    WITHDRAWN_REASON_MAX,
    AuthSession,
    Event,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
    User,
)
from ticketing_app.services import operators, settlement, transitions
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.validation import is_uuid

log = logging.getLogger(__name__)

USER_NOT_FOUND = "User not found"
ORDER_NOT_FOUND = "Order not found"
TICKET_NOT_FOUND = "Ticket not found"
ALREADY_SUSPENDED = "This account is already suspended"
NOT_SUSPENDED = "This account is not suspended"
NOT_YOURSELF = "You cannot suspend your own account"
TICKET_SOLD = "This ticket has been sold: refund its order instead"
TICKET_GONE = "This listing is already off the market"
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


def seller_reason(prefix: str, reason: str) -> str:
    """What the seller sees on a withdrawn listing (tickets.withdrawn_reason, 200 characters)."""
    return f"{prefix}: {reason}"[:WITHDRAWN_REASON_MAX]


def get_or_404(db: Session, model: Any, row_id: Any, message: str) -> Any:
    found = db.get(model, row_id.lower(), populate_existing=True) if is_uuid(row_id) else None
    if found is None:
        raise NotFound(message)
    return found


def retrying(db: Session, step: Callable[[], T]) -> T:
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
        user = get_or_404(db, User, user_id, USER_NOT_FOUND)
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
            conn, listings, seller_reason("Your account was suspended", reason), now
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

    return retrying(db, step)


def reinstate_user(
    db: Session, *, operator: SignedIn | None, user_id: Any, reason: Any, now: datetime
) -> User:
    """Lift a suspension: the user may sign in again. Withdrawn listings stay withdrawn (the
    seller lists again what they still want to sell)."""
    operator = operators.require_operator(operator)
    reason = operators.clean_reason(reason)
    with db.begin():
        user = get_or_404(db, User, user_id, USER_NOT_FOUND)
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
        ticket = get_or_404(db, Ticket, ticket_id, TICKET_NOT_FOUND)
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
            conn, [ticket.id], seller_reason("Withdrawn by an operator", reason), now
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

    return retrying(db, step)


# -- orders ---------------------------------------------------------------------------------
def refund_message(reason: str) -> str:
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
        order = get_or_404(db, Order, order_id, ORDER_NOT_FOUND)
        if order.status != OrderStatus.COMPLETE:
            raise RuleViolation(ORDER_NOT_COMPLETE)
        conn = db.connection()
        claims = transitions.refund_completed(
            conn, [order.id], seller_reason("The sale was refunded", reason), now
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
    settlement.refund_claims(db, claims, now=now, message=refund_message(reason))
    with db.begin():
        refreshed = db.get(Order, order.id, populate_existing=True)
    assert refreshed is not None
    return refreshed
