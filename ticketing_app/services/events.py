"""Events (SPEC §9): what tickets are for. Create-or-get, search, and the end of an event's
market at its start (`withdraw_started_listings`).

Not to be confused with domain events (the outbox, `ticketing_app/outbox/`): an `Event` here is a
concert or a match, and its changes write the domain events `EventCreated` / `EventUpdated`.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.errors import NotFound, ValidationError
from ticketing_app.models import (
    EVENT_CITY_MAX,
    EVENT_NAME_MAX,
    EVENT_VENUE_MAX,
    Event,
    EventStatus,
    Ticket,
)
from ticketing_app.services.tickets import (
    check_page,
)
from ticketing_app.services.validation import is_uuid, parse_text
from ticketing_app.services.views import event_view, iso

EVENT_NOT_FOUND = "Event not found"
SCHEDULED, CANCELLED = EventStatus.SCHEDULED, EventStatus.CANCELLED
# "At most two years ahead": 2 × 365 days plus a leap day.
MAX_AHEAD = timedelta(days=731)
SEARCH_MAX = 120
COUNT_AHEAD = 1000

_EVENTS = Event.__table__
_TICKETS = Ticket.__table__


@dataclass(frozen=True)
class EventSummary:
    """An event with how many of its tickets are on sale, and the cheapest price."""

    event: Event
    tickets_available: int
    lowest_price_cents: int | None

    def view(self) -> dict[str, Any]:
        return event_view(self.event, self.tickets_available, self.lowest_price_cents)


@dataclass(frozen=True)
class EventCreation:
    summary: EventSummary
    created: bool  # False: an event with the same name, venue and start already existed

    @property
    def event(self) -> Event:
        return self.summary.event


@dataclass(frozen=True)
class EventPage:
    items: list[EventSummary]
    total: int  # exact up to offset + limit + COUNT_AHEAD; beyond, a lower bound
    total_capped: bool = False


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive form (NFKC, case folded, runs of spaces as one)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def dedupe_key(name: str, venue: str, starts_at: datetime) -> str:
    """What identifies an event: folded name and venue, and the start to the second. A JSON
    array, so no name or venue can run into the next part."""
    start = starts_at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return json.dumps([_fold(name), _fold(venue), start], ensure_ascii=False)


def parse_instant(value: Any, field: str, label: str) -> datetime:
    """An ISO 8601 date-time with a time zone (`2026-12-05T20:00:00Z`, `…+01:00`), as UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{label} is required", field)
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise ValidationError(
                f"{label} must be an ISO 8601 date and time, e.g. 2026-12-05T20:00:00Z", field
            ) from None
    if parsed.tzinfo is None:
        raise ValidationError(
            f"{label} must include a time zone, e.g. 2026-12-05T20:00:00Z or +01:00", field
        )
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(f"{label} is out of range", field) from None


def local_to_utc(value: Any, time_zone: Any) -> str:
    """A browser's `datetime-local` value ("2026-12-05T20:00") in the browser's IANA zone, as
    the ISO UTC string `create_event` takes (DST of that date included). Bad input passes
    through for `create_event` to report on `startsAt`."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if naive.tzinfo is not None:
        return value
    try:
        zone = ZoneInfo(str(time_zone)) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return iso(naive.replace(tzinfo=zone)) or value


def parse_starts_at(value: Any, now: datetime) -> datetime:
    starts_at = parse_instant(value, "startsAt", "Starts at").replace(microsecond=0)
    if starts_at <= now:
        raise ValidationError("Starts at must be in the future", "startsAt")
    if starts_at > now + MAX_AHEAD:
        raise ValidationError("Starts at must be at most two years ahead", "startsAt")
    return starts_at


def _event_payload(event: Event) -> dict[str, Any]:
    return {**event_view(event), "createdBy": event.created_by, "version": event.version}


def _existing(db: Session, key: str) -> EventSummary | None:
    """The event with this dedupe key, with its figures (in the caller's transaction)."""
    one = sa.select(_EVENTS).where(_EVENTS.c.dedupe_key == key).subquery()
    found = _summaries(db.execute(_with_figures(one)).all())
    return found[0] if found else None


def create_event(
    db: Session,
    *,
    user_id: str,
    name: Any,
    venue: Any,
    city: Any,
    starts_at: Any,
    now: datetime,
) -> EventCreation:
    """Create the event, or return the existing one with the same name, venue and start.

    The unique index on `dedupe_key` decides between concurrent creators: the loser's INSERT
    fails (on PostgreSQL after waiting for the winner's commit) and it returns the winner's."""
    name = parse_text(name, "name", "Name", EVENT_NAME_MAX)
    venue = parse_text(venue, "venue", "Venue", EVENT_VENUE_MAX)
    city = parse_text(city, "city", "City", EVENT_CITY_MAX)
    start = parse_starts_at(starts_at, now)
    key = dedupe_key(name, venue, start)
    try:
        with db.begin():
            existing = _existing(db, key)
            if existing is not None:
                return EventCreation(existing, created=False)
            event = Event(
                name=name,
                venue=venue,
                city=city,
                starts_at=start,
                dedupe_key=key,
                created_by=user_id,
                created_at=now,
                updated_at=now,
            )
            db.add(event)
            db.flush()
            outbox.record(
                db,
                type="EventCreated",
                aggregate_type="event",
                aggregate_id=event.id,
                aggregate_version=event.version,
                payload=_event_payload(event),
                now=now,
            )
        return EventCreation(EventSummary(event, 0, None), created=True)
    except IntegrityError:  # another creator's INSERT of the same key committed first
        with db.begin():
            existing = _existing(db, key)
        if existing is None:
            raise
        return EventCreation(existing, created=False)


def load_event(db: Session, event_id: Any, *, field: str | None = None) -> Event:
    """The event, or NotFound (with `field`: a ValidationError on that field instead)."""
    event = db.get(Event, event_id.lower()) if is_uuid(event_id) else None
    if event is None:
        if field is not None:
            raise ValidationError("No such event", field)
        raise NotFound(EVENT_NOT_FOUND)
    return event


def _available(event_id: Any) -> Any:
    return sa.and_(_TICKETS.c.event_id == event_id, _TICKETS.c.status == "available")


def _with_figures(events: Any) -> Any:
    """SELECT the rows of the `events` subquery with their available count and lowest price:
    two index lookups each (ix_tickets_event_status_price), in the one statement."""
    count = sa.select(sa.func.count()).where(_available(events.c.id)).scalar_subquery()
    lowest = (
        sa.select(sa.func.min(_TICKETS.c.price_cents))
        .where(_available(events.c.id))
        .scalar_subquery()
    )
    return sa.select(events, count.label("tickets_available"), lowest.label("lowest"))


def _summaries(rows: Any) -> list[EventSummary]:
    out = []
    for row in rows:
        values = dict(row._mapping)
        available, lowest = values.pop("tickets_available"), values.pop("lowest")
        out.append(EventSummary(Event(**values), int(available or 0), lowest))
    return out


def summary_by_id(db: Session, event_id: str) -> EventSummary | None:
    """The event with its figures, in the caller's transaction (None: no such event)."""
    one = sa.select(_EVENTS).where(_EVENTS.c.id == event_id.lower()).subquery()
    found = _summaries(db.execute(_with_figures(one)).all())
    return found[0] if found else None


def get_event(db: Session, event_id: Any) -> EventSummary:
    """One event (any status, started or not) with its figures."""
    if not is_uuid(event_id):
        raise NotFound(EVENT_NOT_FOUND)
    with db.begin():
        found = summary_by_id(db, event_id)
    if found is None:
        raise NotFound(EVENT_NOT_FOUND)
    return found


def sitemap_entries(db: Session, *, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    """(id, updated_at) of upcoming scheduled events, soonest first."""
    with db.begin():
        rows = db.exec(
            select(Event.id, Event.updated_at)
            .where(Event.status == SCHEDULED, Event.starts_at > now)
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
        ).all()
    return [(event_id, updated_at) for event_id, updated_at in rows]


def _filter_time(value: Any, field: str, label: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:  # a plain date means its midnight, UTC
            return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), UTC)
        except ValueError:
            pass
    return parse_instant(value, field, label)


def list_events(
    db: Session,
    *,
    now: datetime,
    q: str | None = None,
    city: str | None = None,
    starts_from: Any = None,
    starts_before: Any = None,
    limit: int = 50,
    offset: int = 0,
) -> EventPage:
    """Upcoming scheduled events, soonest first, with their figures, in one SELECT (plus the
    count of matches). `q` matches name, venue or city (case-insensitive); `city` equals it;
    `starts_from` ≤ starts_at < `starts_before`."""
    check_page(limit, offset)
    after = _filter_time(starts_from, "from", "From")
    before = _filter_time(starts_before, "to", "To")
    conditions: list[Any] = [_EVENTS.c.status == SCHEDULED, _EVENTS.c.starts_at > now]
    if after is not None:
        conditions.append(_EVENTS.c.starts_at >= after)
    if before is not None:
        conditions.append(_EVENTS.c.starts_at < before)
    if city and city.strip():
        conditions.append(sa.func.lower(_EVENTS.c.city) == " ".join(city.split()).lower())
    needle = " ".join(q.replace("\x00", "").split()).lower()[:SEARCH_MAX] if q else ""
    if needle:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            sa.or_(
                *(
                    sa.func.lower(column).like(pattern, escape="\\")
                    for column in (_EVENTS.c.name, _EVENTS.c.venue, _EVENTS.c.city)
                )
            )
        )
    order = (_EVENTS.c.starts_at, _EVENTS.c.id)
    with db.begin():
        page = (
            sa.select(_EVENTS).where(*conditions).order_by(*order).limit(limit).offset(offset)
        ).subquery()
        rows = db.execute(_with_figures(page).order_by(page.c.starts_at, page.c.id)).all()
        bound = offset + limit + COUNT_AHEAD
        matching = sa.select(_EVENTS.c.id).where(*conditions).limit(bound).subquery()
        total = db.execute(sa.select(sa.func.count()).select_from(matching)).scalar_one()
    return EventPage(items=_summaries(rows), total=total, total_capped=total >= bound)


def event_tickets(
    db: Session, event_id: Any, *, limit: int = 50, offset: int = 0
) -> tuple[EventSummary, list[Ticket]]:
    """The event (with figures) and its available tickets, cheapest first (read along the
    index), in one transaction."""
    check_page(limit, offset)
    if not is_uuid(event_id):
        raise NotFound(EVENT_NOT_FOUND)
    with db.begin():
        summary = summary_by_id(db, event_id)
        if summary is None:
            raise NotFound(EVENT_NOT_FOUND)
        items = list(
            db.exec(
                select(Ticket)
                .where(Ticket.event_id == summary.event.id, Ticket.status == "available")
                .order_by(Ticket.price_cents, Ticket.id)
                .limit(limit)
                .offset(offset)
            )
        )
    return summary, items
