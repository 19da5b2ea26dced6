"""An event's start ends its market (SPEC §9): its unsold listings are withdrawn, by one
idempotent set-based call that the event-start timer and sweep (jobs/event_start.py) share."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app.models import Event, Ticket, TicketStatus
from ticketing_app.services import transitions
from ticketing_app.services.events import SCHEDULED

STARTED_REASON = "The event started, so this listing left the market"

_EVENTS = Event.__table__
_TICKETS = Ticket.__table__


def withdraw_started_listings(db: Session, *, now: datetime, limit: int = 500) -> list[str]:
    """At its start an event's unsold listings leave the market: up to `limit` available
    tickets of events that have started become `cancelled` with `STARTED_REASON`, with their
    TicketCancelled events, in ONE transaction. Idempotent (the UPDATE re-checks
    `status = 'available'`); returns the ids this call withdrew."""
    with db.begin():
        started = sa.select(_EVENTS.c.id).where(_EVENTS.c.starts_at <= now)
        due = (
            sa.select(_TICKETS.c.id)
            .where(_TICKETS.c.status == TicketStatus.AVAILABLE, _TICKETS.c.event_id.in_(started))
            .limit(limit)
            # PostgreSQL: a timer and a sweep running at once take disjoint rows.
            .with_for_update(skip_locked=True)
            # A CTE, evaluated once: as a plain `IN (subquery)` PostgreSQL may rescan the
            # locking subquery per row, and the LIMIT no longer bounds the batch.
            .cte("due")
        )
        withdrawn = transitions.withdraw_listings(
            db.connection(), sa.select(due.c.id), STARTED_REASON, now
        )
    return [t.id for t in withdrawn]


def next_event_start(db: Session, *, after: datetime) -> datetime | None:
    """The earliest start after `after` of a scheduled event (the event-start timer's next
    moment), or None. One step along ix_events_status_starts."""
    with db.begin():
        return db.exec(
            select(Event.starts_at)
            .where(Event.status == SCHEDULED, Event.starts_at > after)
            .order_by(Event.starts_at)
            .limit(1)
        ).first()
