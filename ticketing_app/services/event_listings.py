"""Listings seen with their event (SPEC §9): the listing form's "ticket for this (new)
event", and a ticket or order page's event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from ticketing_app.errors import NotFound
from ticketing_app.models import Ticket
from ticketing_app.services.events import EventSummary, create_event, summary_by_id
from ticketing_app.services.tickets import (
    check_price_cap,
    create_ticket,
    load_ticket,
    parse_face_value,
)
from ticketing_app.services.validation import parse_price, parse_title


def ticket_with_event(db: Session, ticket_id: Any) -> tuple[Ticket, EventSummary | None]:
    """A ticket (NotFound as `tickets.get_ticket`) and its event with figures, if it names one."""
    with db.begin():
        ticket = load_ticket(db, ticket_id)
        summary = summary_by_id(db, ticket.event_id) if ticket.event_id else None
    return ticket, summary


def event_of_ticket(db: Session, ticket_id: Any) -> EventSummary | None:
    """The event a ticket is for (None: none, or no such ticket)."""
    try:
        return ticket_with_event(db, ticket_id)[1]
    except NotFound:
        return None


def list_ticket(
    db: Session,
    *,
    seller_id: str,
    title: Any,
    price: Any,
    face_value: Any,
    event_id: Any = None,
    new_event: dict[str, Any] | None = None,
    now: datetime,
) -> Ticket:
    """The listing form: a ticket for an existing event (`event_id`), for an event named by
    `new_event` ({name, venue, city, starts_at}: created, or the existing one), or for none.
    The ticket's own fields are checked first, so a bad price leaves no new event behind."""
    price_cents = parse_price(price)
    parse_title(title)
    check_price_cap(price_cents, parse_face_value(face_value))
    if new_event is not None:
        event_id = create_event(db, user_id=seller_id, now=now, **new_event).event.id
    return create_ticket(
        db,
        seller_id=seller_id,
        title=title,
        price=price,
        face_value=face_value,
        event_id=event_id,
        now=now,
    )
