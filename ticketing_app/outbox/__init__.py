"""The domain-event bus: the transactional outbox and its in-process delivery.

Infrastructure below the services. `write_rows` (Core connection) and `record` (ORM session)
write DomainEvent rows in the caller's transaction; nothing leaves the process unless that
transaction commits. Delivery has one mechanism, `db.after_commit`: once the transaction on
that connection commits, registered in-process handlers (the live-update push, expiry timers,
the NATS relay's wake-up, tests) receive each event, in order; a rollback discards them.

The rest of the package: `relay` (outbox → NATS JetStream), `stream` (the JetStream side),
`store` (the relay's reads and writes) and `cli` (`python -m ticketing_app.outbox tail|replay`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from ticketing_app.db import after_commit
from ticketing_app.models import DomainEvent, iso, new_id

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "UserCreated",
    "UserUpdated",
    "TicketCreated",
    "TicketUpdated",
    "TicketCancelled",
    "TicketFileAttached",
    "OrderCreated",
    "OrderCancelled",
    "OrderExpired",
    "OrderCompleted",
    "OrderUpdated",
    "ChargeCreated",
    "ChargeRefunded",
    "EventCreated",
    "EventUpdated",
    "PayoutRequested",
    "PayoutPaid",
)


@dataclass(frozen=True)
class Event:
    """An event as handlers see it (a plain value, safe to pass between threads)."""

    id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    payload: dict[str, Any]
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return subject_for(self.aggregate_type, self.type)


Handler = Callable[[Event], None]
_handlers: list[Handler] = []
_handlers_lock = threading.Lock()


def subject_for(aggregate_type: str, event_type: str) -> str:
    return f"ticketing.{aggregate_type}.{event_type}"


def subscribe(handler: Handler) -> Callable[[], None]:
    """Register an after-commit handler; returns a function that removes it."""
    with _handlers_lock:
        _handlers.append(handler)

    def unsubscribe() -> None:
        with _handlers_lock:
            if handler in _handlers:
                _handlers.remove(handler)

    return unsubscribe


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value) or ""
    return str(value)


class NewEvent(NamedTuple):
    """An event about to be written: what changed, to which aggregate, at which version."""

    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    payload: dict[str, Any]


_INSERT = sa.insert(DomainEvent.__table__)


def write_rows(conn: sa.Connection, events: list[NewEvent], *, now: datetime) -> list[Event]:
    """Write outbox rows in `conn`'s current transaction (one INSERT of Core rows) and return
    them as events; they reach the handlers once that transaction commits (never before,
    never after a rollback)."""
    rows: list[dict[str, Any]] = []
    written: list[Event] = []
    for ev in events:
        if ev.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {ev.type!r}")
        # Handlers in-process and consumers on NATS see the same JSON (datetimes as ISO Z).
        text = json.dumps(ev.payload, sort_keys=True, default=_json_default)
        event_id = new_id()
        rows.append(
            {
                "id": event_id,
                "type": ev.type,
                "aggregate_type": ev.aggregate_type,
                "aggregate_id": ev.aggregate_id,
                "aggregate_version": ev.aggregate_version,
                "payload": text,
                "created_at": now,
                "published_at": None,
            }
        )
        written.append(
            Event(
                id=event_id,
                type=ev.type,
                aggregate_type=ev.aggregate_type,
                aggregate_id=ev.aggregate_id,
                aggregate_version=ev.aggregate_version,
                payload=json.loads(text),
                created_at=now,
            )
        )
    if not rows:
        return written
    conn.execute(_INSERT, rows)
    after_commit(conn, lambda: dispatch(written))
    return written


def record_rows(session: Session, events: list[NewEvent], *, now: datetime) -> None:
    """`write_rows` on the session's connection (same transaction, same delivery)."""
    write_rows(session.connection(), events, now=now)


def record(
    session: Session,
    *,
    type: str,
    aggregate_type: str,
    aggregate_id: str,
    aggregate_version: int,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Write one outbox row in the current transaction."""
    record_rows(
        session, [NewEvent(type, aggregate_type, aggregate_id, aggregate_version, payload)], now=now
    )


def prune(session: Session, *, before: datetime, published_only: bool, batch: int = 5000) -> int:
    """Delete outbox rows created before `before` — with `published_only`, only those among
    them that the relay has published; one batch per transaction. Returns the number deleted."""
    table = DomainEvent.__table__
    old = sa.select(table.c.seq).where(table.c.created_at < before)
    if published_only:
        old = old.where(table.c.published_at.is_not(None))
    total = 0
    while True:
        with session.begin():
            doomed = old.order_by(table.c.seq).limit(batch).scalar_subquery()
            deleted = session.execute(sa.delete(table).where(table.c.seq.in_(doomed))).rowcount
        total += deleted
        if deleted < batch:
            return total


def dispatch(events: list[Event]) -> None:
    """Hand committed events to every handler (a failing handler is logged and skipped)."""
    with _handlers_lock:
        handlers = list(_handlers)
    for ev in events:
        for handler in handlers:
            try:
                handler(ev)
            except Exception:  # a broken subscriber must not break the request
                log.exception("event handler %r failed for %s", handler, ev.type)
