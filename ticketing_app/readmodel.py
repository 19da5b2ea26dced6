"""The public market's first pages, answered from memory (issue 19; docs/decisions.md).

What it holds, per worker process and per database: the first `DEPTH` tickets for sale
(newest first), each event's first `DEPTH` available tickets (cheapest first) with its figures,
the first `DEPTH` upcoming events (soonest first) with their figures, single tickets and
events by id, and the encoded REST responses built from those (body, ETag). The `/` page, the
event page and `GET /api/tickets`, `/api/events`, `/api/events/{id}`, `/api/events/{id}/tickets`
and `/api/tickets/{id}` read through it when they ask for the default view; searches, other
sorts and deeper pages go to the database as before.

How it stays right — read-through, invalidated by committed domain events:
- An entry is built by the same service read as before, on the first request that wants it,
  and kept until a committed domain event touching what it shows arrives (`tags_for`): an
  event of the ticket, order or event aggregate drops the entries that show that ticket or
  event (an order's ticket; for an order, whose event is not in its payload, every event's
  figures too; for an event, the market list as well); an aggregate type this module does
  not know drops everything. `user` and
  `charge` events change nothing public (a suspended seller's listings leave the market by
  their own ticket events). New event types of the known aggregates are covered as they are.
- Events arrive twice on every worker and either is enough: synchronously in the committing
  thread (`outbox.subscribe`, before the request that committed returns, so the next read on
  this worker is fresh), and through the event bus from other workers (`jobs/bus.py`, Redis).
- A read that began before an invalidation never stores its (possibly older) result: every
  invalidation bumps a generation, and a build stores only if the generation is unchanged.
- Missed events (a Redis gap, a worker that was down or not yet subscribed, a writer outside
  every worker such as the CLI): at most every `ticketing_read_model_check_seconds` a read
  first compares `max(domain_events.seq)` with the last value seen and, when it moved, drops
  everything — whether or not those events arrived — so a change whose events never reached
  this worker is visible within that interval. The bus also drops everything each time its
  Redis subscription is (re)established. A restarted worker starts empty.
- Time: an upcoming-events entry is valid only until the first listed event starts (it then
  leaves the list); cards that print "started" are built by the pages from the cached rows at
  read time, never cached themselves.

Cached rows (Ticket, Event objects) are shared between readers: never mutate them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from ticketing_app import outbox
from ticketing_app.db import DriverQuery, get_engine, normalize_url, read_session
from ticketing_app.models import DomainEvent, Ticket, utcnow
from ticketing_app.outbox import Event
from ticketing_app.services import events as events_service
from ticketing_app.services import tickets as tickets_service
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

DEPTH = tickets_service.MAX_LIMIT  # rows kept per list: any page within them is served
MAX_ENTRIES = 20_000  # by-id entries beyond this: the by-id part starts over
ALL = "*"
TICKETS = "tickets"  # the market list
EVENTS = "events"  # the upcoming-events list (their figures too)


def ticket_tag(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def event_tag(event_id: str) -> str:
    return f"event:{event_id}"


EVERY_EVENT = "event:*"  # every event's entries (figures of an unknown event changed)
# Users, charges and payouts never change what the public market shows.
IGNORED_AGGREGATES = frozenset({"user", "charge", "payout"})


def tags_for(event: Event) -> frozenset[str]:
    """What a committed domain event makes stale (ALL: everything)."""
    p = event.payload
    if event.aggregate_type in IGNORED_AGGREGATES:
        return frozenset()
    if event.aggregate_type == "ticket":
        tags = {TICKETS, ticket_tag(event.aggregate_id)}
        for key in ("eventId", "previousEventId"):
            if p.get(key):
                tags |= {EVENTS, event_tag(str(p[key]))}
        return frozenset(tags)
    if event.aggregate_type == "event":
        # Its tickets change by their own events (an operator's cancel writes TicketCancelled);
        # the market list goes too, in case a future change of an event touches them without.
        return frozenset({TICKETS, EVENTS, event_tag(event.aggregate_id)})
    if event.aggregate_type == "order":
        # The order's ticket changes status in the same transaction (its TicketUpdated says
        # which event); without relying on that, the order alone tells us only the ticket.
        tags = {TICKETS, EVENTS, EVERY_EVENT}
        tags.add(ticket_tag(str(p["ticketId"])) if p.get("ticketId") else ALL)
        return frozenset(tags)
    return frozenset({ALL})


@dataclass(frozen=True)
class TicketList:
    items: tuple[Ticket, ...]
    total: int  # exact up to DEPTH + COUNT_AHEAD: what any page within DEPTH reports


@dataclass(frozen=True)
class EventList:
    items: tuple[events_service.EventSummary, ...]
    total: int


@dataclass(frozen=True)
class EventTickets:
    summary: events_service.EventSummary
    items: tuple[Ticket, ...]


@dataclass(frozen=True)
class Encoded:
    """A REST response body ready to send, with its ETag and X-Total-Count (or None)."""

    body: bytes
    etag: str
    total: str | None = None


def encode(content: Any, total: int | None = None) -> Encoded:
    """JSON as Starlette's JSONResponse writes it, and a strong ETag of those bytes."""
    body = json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    return Encoded(body, etag, None if total is None else str(total))


@dataclass
class _Entry:
    value: Any
    tags: frozenset[str]
    valid_until: datetime | None  # None: until invalidated


T = TypeVar("T")
_MAX_SEQ = DriverQuery(sa.select(sa.func.max(DomainEvent.__table__.c.seq)))


class ReadModel:
    """One database's read model in this process (see the module docstring)."""

    def __init__(self, url: str, check_seconds: float) -> None:
        self.url = url
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._entries: dict[Any, _Entry] = {}
        self._generation = 0
        self._seq: Any = None  # max(domain_events.seq) at the last check
        self._next_check = 0.0  # time.monotonic() of the next check
        self.builds = 0  # observability (tests, benchmarks)
        self.invalidations = 0

    # --- invalidation ---
    def apply(self, event: Event) -> None:
        """A committed domain event (from any thread)."""
        tags = tags_for(event)
        if tags:
            self.invalidate(tags)

    def invalidate(self, tags: Iterable[str]) -> None:
        tags = frozenset(tags)
        with self._lock:
            self._generation += 1
            self.invalidations += 1
            if ALL in tags:
                self._entries.clear()
                return
            every_event = EVERY_EVENT in tags
            doomed = [
                key
                for key, entry in self._entries.items()
                if entry.tags & tags
                or (every_event and any(t.startswith("event:") for t in entry.tags))
            ]
            for key in doomed:
                del self._entries[key]

    def invalidate_all(self) -> None:
        self.invalidate({ALL})

    def _check(self) -> None:
        """The gap check (module docstring), when due."""
        now = time.monotonic()
        if now < self._next_check:
            return
        row = _MAX_SEQ.first(get_engine(self.url), {})
        seq = row[0] if row else None
        with self._lock:
            self._next_check = now + self.check_seconds
            changed, self._seq = seq != self._seq, seq
        if changed:
            self.invalidate_all()

    # --- reads ---
    def peek(self, key: Any) -> Any | None:
        """The entry's value if it can be served without any database work (none is done:
        the caller falls back to `get`, e.g. in a thread), else None."""
        if time.monotonic() >= self._next_check:
            return None
        entry = self._entries.get(key)
        if entry is None or (entry.valid_until is not None and utcnow() >= entry.valid_until):
            return None
        return entry.value

    def get(
        self,
        key: Any,
        tags: Iterable[str],
        build: Callable[[], T],
        valid_until: Callable[[T], datetime | None] | None = None,
    ) -> T:
        """The entry for `key`, built (and kept, unless invalidated meanwhile) if missing."""
        self._check()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry.valid_until is None or utcnow() < entry.valid_until):
                return entry.value
            generation = self._generation
        value = build()
        until = valid_until(value) if valid_until is not None else None
        with self._lock:
            if self._generation == generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries = {
                        k: e for k, e in self._entries.items() if e.tags & {TICKETS, EVENTS}
                    }
                self._entries[key] = _Entry(value, frozenset(tags), until)
                self.builds += 1
        return value

    # --- the lists and rows ---
    def market_tickets(self) -> TicketList:
        """Tickets for sale, newest first: the first DEPTH."""

        def build() -> TicketList:
            with read_session(self.url) as db:
                page = tickets_service.list_tickets(db, limit=DEPTH)
            return TicketList(tuple(page.items), page.total)

        return self.get(("tickets",), {TICKETS}, build)

    def ticket(self, ticket_id: str) -> Ticket:
        """One ticket by id, any status (NotFound as `tickets.get_ticket`; not kept)."""
        key = ("ticket", ticket_id)
        found = self.peek(key)
        if found is not None:
            return found

        def build() -> Ticket:
            with read_session(self.url) as db:
                return tickets_service.get_ticket(db, ticket_id)

        return self.get(key, {ticket_tag(str(ticket_id).lower())}, build)

    def upcoming_events(self) -> EventList:
        """Scheduled events not yet started, soonest first: the first DEPTH. Valid until the
        first of them starts."""

        def build() -> EventList:
            with read_session(self.url) as db:
                page = events_service.list_events(db, now=utcnow(), limit=DEPTH)
            return EventList(tuple(page.items), page.total)

        def until(found: EventList) -> datetime | None:
            return found.items[0].event.starts_at if found.items else None

        return self.get(("events",), {EVENTS}, build, until)

    def event(self, event_id: str) -> events_service.EventSummary:
        def build() -> events_service.EventSummary:
            with read_session(self.url) as db:
                return events_service.get_event(db, event_id)

        return self.get(("event", event_id), {event_tag(str(event_id).lower())}, build)

    def event_tickets(self, event_id: str) -> EventTickets:
        """The event (with figures) and its first DEPTH available tickets, cheapest first."""

        def build() -> EventTickets:
            with read_session(self.url) as db:
                summary, items = events_service.event_tickets(db, event_id, limit=DEPTH)
            return EventTickets(summary, tuple(items))

        return self.get(("event-tickets", event_id), {event_tag(str(event_id).lower())}, build)

    # --- encoded REST responses, derived from the entries above ---
    def encoded(
        self, key: Any, tags: Iterable[str], build: Callable[[], Encoded], valid_until: Any = None
    ) -> Encoded:
        return self.get(("encoded", key), tags, build, valid_until)


_models: dict[str, ReadModel] = {}
_models_lock = threading.Lock()
_subscribed = False


def _apply_everywhere(event: Event) -> None:
    """Outbox handler: events carry no database name, so every model of this process applies
    them (one per database; normally there is one)."""
    for model in list(_models.values()):
        model.apply(event)


def get_read_model(url: str | None = None) -> ReadModel:
    """This process's read model of `url` (default: settings.database_url)."""
    global _subscribed
    settings = get_settings()
    url = normalize_url(url or settings.database_url)
    model = _models.get(url)
    if model is None:
        with _models_lock:
            if not _subscribed:
                outbox.subscribe(_apply_everywhere)
                _subscribed = True
            model = _models.setdefault(
                url, ReadModel(url, settings.ticketing_read_model_check_seconds)
            )
    return model


def enabled() -> bool:
    return get_settings().ticketing_read_model


def apply_everywhere(event: Event) -> None:
    """For the event bus: an event from another worker."""
    _apply_everywhere(event)


def invalidate_everywhere() -> None:
    """For the event bus: its Redis subscription was (re)established; anything may be missed."""
    for model in list(_models.values()):
        model.invalidate_all()


def reset() -> None:
    """Forget every model (tests that change settings or databases)."""
    with _models_lock:
        _models.clear()
