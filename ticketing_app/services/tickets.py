"""Listings: create, edit, cancel, read, search. Only the seller edits, only while available."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.errors import Forbidden, NotFound, RuleViolation, ValidationError
from ticketing_app.models import TICKET_STATUSES, Event, EventStatus, Ticket, TicketStatus, User
from ticketing_app.services.messages import EVENT_CANCELLED, EVENT_STARTED, TICKET_NOT_FOUND
from ticketing_app.services.transitions import ticket_event
from ticketing_app.services.validation import (
    format_price,
    is_uuid,
    parse_money,
    parse_price,
    parse_title,
)
from ticketing_app.settings import get_settings

__all__ = ["EVENT_CANCELLED", "EVENT_STARTED", "TICKET_NOT_FOUND"]
Sort = Literal["newest", "price_asc", "price_desc"]
SORTS: tuple[str, ...] = ("newest", "price_asc", "price_desc")
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000


def _record(db: Session, type: str, ticket: Ticket, now: datetime, **extra: Any) -> None:
    outbox.record_rows(db, [ticket_event(type, ticket, **extra)], now=now)


def load_ticket(db: Session, ticket_id: Any, *, refresh: bool = False) -> Ticket:
    if not is_uuid(ticket_id):
        raise NotFound(TICKET_NOT_FOUND)
    ticket = db.get(Ticket, ticket_id.lower(), populate_existing=refresh)
    if ticket is None:
        raise NotFound(TICKET_NOT_FOUND)
    return ticket


def _not_editable(ticket: Ticket, verb: str) -> RuleViolation:
    return RuleViolation(f"Cannot {verb} a {ticket.status} ticket")


def _check_listing_limits(db: Session, seller_id: str, now: datetime) -> None:
    """At most TICKETING_MAX_LISTINGS_PER_HOUR new listings per seller in the last hour and
    TICKETING_MAX_AVAILABLE_LISTINGS for sale at once (0: no limit). Counted inside the
    transaction that adds the listing, one seller at a time: SQLite's write transaction is
    BEGIN IMMEDIATE already; on PostgreSQL the seller's users row is locked first."""
    settings = get_settings()
    per_hour = settings.ticketing_max_listings_per_hour
    at_once = settings.ticketing_max_available_listings
    if not per_hour and not at_once:
        return
    if db.get_bind().dialect.name == "postgresql":
        db.exec(select(User.id).where(User.id == seller_id).with_for_update())
    mine = select(sa.func.count()).select_from(Ticket).where(Ticket.user_id == seller_id)
    if per_hour:
        recent = db.exec(mine.where(Ticket.created_at > now - timedelta(hours=1))).one()
        if recent >= per_hour:
            raise RuleViolation(
                f"You can list at most {per_hour} tickets an hour. Try again later."
            )
    if at_once:
        available = db.exec(mine.where(Ticket.status == TicketStatus.AVAILABLE)).one()
        if available >= at_once:
            raise RuleViolation(
                f"You can have at most {at_once} tickets for sale at once. "
                "Cancel a listing, or wait until one sells."
            )


# SPEC §9: what a listing may say about its event and face value.
NO_SUCH_EVENT = "No such event"
UNCHANGED: Any = object()  # update_ticket: a field the request did not mention


def parse_face_value(value: Any) -> int | None:
    """Optional: None or "" means not stated."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_money(value, "faceValue", "Face value")


def parse_event_id(value: Any) -> str | None:
    """Optional: None or "" means no event; anything else must look like an id."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not is_uuid(value):
        raise ValidationError(NO_SUCH_EVENT, "eventId")
    return value.lower()


def check_price_cap(price_cents: int, face_value_cents: int | None) -> None:
    """Price ≤ face value × TICKETING_PRICE_CAP_PERCENT / 100 (0: no cap); 400 on `price`
    naming the highest allowed price."""
    percent = get_settings().ticketing_price_cap_percent
    if face_value_cents is None or not percent:
        return
    highest = face_value_cents * percent // 100
    if price_cents > highest:
        raise ValidationError(
            f"Price must be at most {format_price(highest)} ({percent}% of the face value "
            f"{format_price(face_value_cents)})",
            "price",
        )


def listable_event(db: Session, event_id: str | None, now: datetime) -> Event | None:
    """The event a listing names, read in the caller's write transaction, refusing one that is
    unknown (400 on eventId), cancelled or started. On PostgreSQL the row is share-locked, so
    the event cannot be cancelled or moved until this listing commits."""
    if event_id is None:
        return None
    event = db.exec(select(Event).where(Event.id == event_id).with_for_update(read=True)).first()
    if event is None:
        raise ValidationError(NO_SUCH_EVENT, "eventId")
    if event.status == EventStatus.CANCELLED:
        raise RuleViolation(EVENT_CANCELLED, "eventId")
    if event.starts_at <= now:
        raise RuleViolation(EVENT_STARTED, "eventId")
    return event


def create_ticket(
    db: Session,
    *,
    seller_id: str,
    title: Any,
    price: Any,
    now: datetime,
    event_id: Any = None,
    face_value: Any = None,
) -> Ticket:
    title = parse_title(title)
    price_cents = parse_price(price)
    event_ref = parse_event_id(event_id)
    face_value_cents = parse_face_value(face_value)
    check_price_cap(price_cents, face_value_cents)
    with db.begin():
        _check_listing_limits(db, seller_id, now)
        listable_event(db, event_ref, now)
        ticket = Ticket(
            title=title,
            price_cents=price_cents,
            user_id=seller_id,
            created_at=now,
            updated_at=now,
            event_id=event_ref,
            face_value_cents=face_value_cents,
        )
        db.add(ticket)
        db.flush()
        _record(db, "TicketCreated", ticket, now)
    return ticket


def _owned(db: Session, user_id: str, ticket_id: Any) -> Ticket:
    ticket = load_ticket(db, ticket_id)
    if ticket.user_id != user_id:
        raise Forbidden("Only the seller can change this ticket")
    return ticket


def check_owner(db: Session, *, user_id: str, ticket_id: Any) -> None:
    """404 unless the ticket exists, 403 unless `user_id` is its seller; changes nothing.

    For a caller that must answer those before its own 400 (a malformed body on PUT)."""
    with db.begin():
        _owned(db, user_id, ticket_id)


def update_ticket(
    db: Session,
    *,
    user_id: str,
    ticket_id: Any,
    title: Any,
    price: Any,
    now: datetime,
    event_id: Any = UNCHANGED,
    face_value: Any = UNCHANGED,
) -> Ticket:
    """404, then 403, then 400 (bad title/price/event/face value, then not available): a
    stranger learns nothing from the body's mistakes, the seller gets the field errors.
    `event_id` / `face_value` left UNCHANGED keep what the ticket has (SPEC §4's
    `{title, price}` still works); None clears them."""
    with db.begin():
        ticket = _owned(db, user_id, ticket_id)
        previous_event = ticket.event_id
        title = parse_title(title)
        price_cents = parse_price(price)
        event_ref = ticket.event_id if event_id is UNCHANGED else parse_event_id(event_id)
        face_value_cents = (
            ticket.face_value_cents if face_value is UNCHANGED else parse_face_value(face_value)
        )
        check_price_cap(price_cents, face_value_cents)
        listable_event(db, event_ref, now)
        if ticket.status != TicketStatus.AVAILABLE:
            raise _not_editable(ticket, "edit")
        changed = db.exec(
            sa.update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == TicketStatus.AVAILABLE)
            .values(
                title=title,
                price_cents=price_cents,
                event_id=event_ref,
                face_value_cents=face_value_cents,
                version=Ticket.version + 1,
                updated_at=now,
            )
        ).rowcount
        ticket = load_ticket(db, ticket.id, refresh=True)
        if changed != 1:  # reserved between our read and our write
            raise _not_editable(ticket, "edit")
        # Moved to another event (or off one): the page of the one it left changes too.
        moved = {"previousEventId": previous_event} if previous_event != event_ref else {}
        _record(db, "TicketUpdated", ticket, now, **moved)
    return ticket


def cancel_ticket(db: Session, *, user_id: str, ticket_id: Any, now: datetime) -> Ticket:
    with db.begin():
        ticket = _owned(db, user_id, ticket_id)
        if ticket.status != TicketStatus.AVAILABLE:
            raise _not_editable(ticket, "cancel")
        changed = db.exec(
            sa.update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == TicketStatus.AVAILABLE)
            .values(status=TicketStatus.CANCELLED, version=Ticket.version + 1, updated_at=now)
        ).rowcount
        ticket = load_ticket(db, ticket.id, refresh=True)
        if changed != 1:
            raise _not_editable(ticket, "cancel")
        _record(db, "TicketCancelled", ticket, now)
    return ticket


def get_ticket(db: Session, ticket_id: Any) -> Ticket:
    return load_ticket(db, ticket_id)


@dataclass(frozen=True)
class TicketPage:
    items: list[Ticket]
    # Exact up to offset + limit + COUNT_AHEAD (SEARCH_COUNT_AHEAD with q); beyond, a lower bound.
    total: int
    total_capped: bool = False


# Counting every match made the first page of 100,000 tickets 4x slower than of 1,000
# (docs/performance.md); past this many rows beyond the page, the exact figure is not needed.
COUNT_AHEAD = 1000
# A title search tests every row it counts (no index answers a count of LIKE '%q%' matches).
SEARCH_COUNT_AHEAD = 200


def check_page(limit: int, offset: int) -> None:
    """The paging rules of every list (tickets, orders): 400 with `field` limit/offset."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"Limit must be between 1 and {MAX_LIMIT}", "limit")
    if offset < 0:
        raise ValidationError("Offset must be 0 or more", "offset")
    if offset > MAX_OFFSET:  # beyond any real page; also keeps the SQL integer in range
        raise ValidationError(f"Offset must be at most {MAX_OFFSET}", "offset")


def list_tickets(
    db: Session,
    *,
    status: str = TicketStatus.AVAILABLE,
    q: str | None = None,
    sort: str = "newest",
    limit: int = 50,
    offset: int = 0,
    seller_id: str | None = None,
) -> TicketPage:
    """Tickets newest first (or by price); `status="all"` for every status."""
    if status != "all" and status not in TICKET_STATUSES:
        raise ValidationError(
            "Status must be one of available, reserved, sold, cancelled, all", "status"
        )
    if sort not in SORTS:
        raise ValidationError("Sort must be one of newest, price_asc, price_desc", "sort")
    check_page(limit, offset)
    conditions: list[Any] = []
    needle = q.replace("\x00", "").strip().lower()[:TITLE_SEARCH_MAX] if q and q.strip() else None
    candidates = _sqlite_title_candidates(db, needle) if needle else None
    # With candidates, SQLite is to fetch them by rowid; a unary + keeps it from walking the
    # status or seller index instead (it would without ANALYZE statistics: every entry read).
    column = _unindexed if candidates is not None else _as_is
    if status != "all":
        conditions.append(column(Ticket.status) == status)
    if seller_id is not None:
        conditions.append(column(Ticket.user_id) == seller_id)
    if needle is not None:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(sa.func.lower(Ticket.title).like(f"%{escaped}%", escape="\\"))
    if candidates is not None:
        conditions.append(candidates)
    order_by = {
        "newest": (Ticket.created_at.desc(), Ticket.id.desc()),
        "price_asc": (Ticket.price_cents.asc(), Ticket.created_at.desc(), Ticket.id.desc()),
        "price_desc": (Ticket.price_cents.desc(), Ticket.created_at.desc(), Ticket.id.desc()),
    }[sort]
    items = list(
        db.exec(select(Ticket).where(*conditions).order_by(*order_by).limit(limit).offset(offset))
    )
    bound = offset + limit + (SEARCH_COUNT_AHEAD if q and q.strip() else COUNT_AHEAD)
    matching = select(Ticket.id).where(*conditions).limit(bound).subquery()
    total = db.exec(select(sa.func.count()).select_from(matching)).one()
    return TicketPage(items=items, total=total, total_capped=total >= bound)


TITLE_SEARCH_MAX = 120

# SQLite title search index (alembic/versions/0003_title_fts5_trigram.py): an FTS5 table with
# the trigram tokenizer, kept in step with `tickets` by triggers, rowid = the ticket's rowid.
TITLE_FTS_TABLE = "tickets_title_fts"
TITLE_FTS_OBJECTS = (TITLE_FTS_TABLE, *(f"{TITLE_FTS_TABLE}_{t}" for t in ("ai", "au", "ad")))
# A trigram index answers only strings of 3 characters or more.
TITLE_FTS_MIN_CHARS = 3
# Below this many titles containing the term, fetching them by rowid beats the LIKE scan along
# the sort order; above it, that scan meets a page of matches soon enough (docs/performance.md).
TITLE_FTS_SPARSE = 1000


def _as_is(column: Any) -> Any:
    return column


def _unindexed(column: Any) -> Any:
    """`+column`: the same value, but SQLite's planner no longer serves it from an index."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


_title_fts = sa.table(TITLE_FTS_TABLE, sa.column("rowid"))
_title_fts_match = sa.literal_column(TITLE_FTS_TABLE).op("MATCH")


def _sqlite_title_candidates(db: Session, needle: str) -> Any | None:
    """On SQLite, `tickets.rowid IN (<rowids of titles containing needle>)` when the FTS index
    exists and the term is rare enough for it to pay; None to leave the LIKE scan alone.

    Only ever narrows: the caller keeps the LIKE, whose matches are all among these candidates
    (the trigram index folds case for all of Unicode, SQLite's lower() and LIKE only for ASCII),
    so results are the same either way."""
    if len(needle) < TITLE_FTS_MIN_CHARS or db.get_bind().dialect.name != "sqlite":
        return None
    present = db.exec(
        select(sa.func.count())
        .select_from(sa.table("sqlite_master", sa.column("name")))
        .where(sa.column("name").in_(TITLE_FTS_OBJECTS))
    ).one()
    if present != len(TITLE_FTS_OBJECTS):  # not migrated, or `tickets` was rebuilt since
        return None
    phrase = '"' + needle.replace('"', '""') + '"'  # one FTS5 string: every character literal
    matching = sa.select(_title_fts.c.rowid).where(_title_fts_match(phrase))
    found = db.exec(
        select(sa.func.count()).select_from(matching.limit(TITLE_FTS_SPARSE).subquery())
    ).one()
    if found >= TITLE_FTS_SPARSE:
        return None
    return sa.literal_column("tickets.rowid").in_(matching)
