"""Operators' changes to events (SPEC §12): edit one, cancel one — listings withdrawn,
reservations cancelled, every sale refunded in full exactly once. Same contract as
services/admin.py: the operator re-checked, a reason required, the transitions everyone uses,
the audit row in the change's transaction, Stripe only after the commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ticketing_app import outbox
from ticketing_app.errors import RuleViolation, ValidationError
from ticketing_app.models import (
    EVENT_CITY_MAX,
    EVENT_NAME_MAX,
    EVENT_VENUE_MAX,
    Event,
    EventStatus,
    Order,
    OrderStatus,
    Ticket,
)
from ticketing_app.services import events as events_service
from ticketing_app.services import operators, settlement, transitions
from ticketing_app.services.admin import (
    EVENT_CANCELLED,
    get_or_404,
    refund_message,
    retrying,
    seller_reason,
)
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.validation import parse_text
from ticketing_app.services.views import event_view

EVENT_ALREADY_CANCELLED = "This event is already cancelled"
EVENT_ENDED = "This event has already started, so it can no longer be changed"
EVENT_TAKEN = "Another event already has this name, venue and start"
NOTHING_TO_CHANGE = "Nothing to change: edit a field first"

_TICKETS = Ticket.__table__
_ORDERS = Order.__table__
_EVENTS = Event.__table__


def _or(value: Any, current: str, field: str, label: str, longest: int) -> str:
    """A text field's new value (checked as on creation), or its current one when not given."""
    return current if value is None else parse_text(value, field, label, longest)


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
            event = get_or_404(db, Event, event_id, events_service.EVENT_NOT_FOUND)
            if event.status == EventStatus.CANCELLED:
                raise RuleViolation(EVENT_ALREADY_CANCELLED)
            if event.starts_at <= now:
                raise RuleViolation(EVENT_ENDED)
            changes = {
                "name": _or(name, event.name, "name", "Name", EVENT_NAME_MAX),
                "venue": _or(venue, event.venue, "venue", "Venue", EVENT_VENUE_MAX),
                "city": _or(city, event.city, "city", "City", EVENT_CITY_MAX),
                "starts_at": event.starts_at
                if starts_at is None
                else events_service.parse_starts_at(starts_at, now),
            }
            before = {k: getattr(event, k) for k in changes}
            if changes == before:
                raise ValidationError(NOTHING_TO_CHANGE)
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
        event = get_or_404(db, Event, event_id, events_service.EVENT_NOT_FOUND)
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
        to_seller = seller_reason("The event was cancelled", reason)
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

    cancelled, claims = retrying(db, step)
    settlement.refund_claims(db, claims, now=now, message=refund_message(reason))
    return cancelled
