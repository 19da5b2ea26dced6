"""Domain events: written to the outbox in the caller's transaction, delivered after commit.

`record` adds a DomainEvent row to the session; nothing leaves the process unless that
transaction commits. After commit, registered in-process handlers (the live-update push,
tests, the NATS relay's wake-up) receive each event; a rollback discards them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from ticketing_app.models import DomainEvent
from ticketing_app.services.views import iso

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "UserCreated",
    "UserUpdated",
    "TicketCreated",
    "TicketUpdated",
    "TicketCancelled",
    "OrderCreated",
    "OrderCancelled",
    "OrderExpired",
    "OrderCompleted",
    "ChargeCreated",
    "ChargeRefunded",
)

_PENDING_KEY = "ticketing_pending_events"


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


def record(
    session: Session,
    *,
    type: str,
    aggregate_type: str,
    aggregate_id: str,
    aggregate_version: int,
    payload: dict[str, Any],
    now: datetime,
) -> DomainEvent:
    """Add an outbox row to the current transaction."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    # Handlers in-process and consumers on NATS see the same JSON (datetimes as ISO 8601 Z).
    text = json.dumps(payload, sort_keys=True, default=_json_default)
    row = DomainEvent(
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        payload=text,
        created_at=now,
    )
    session.add(row)
    session.info.setdefault(_PENDING_KEY, []).append(
        Event(
            id=row.id,
            type=type,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            payload=json.loads(text),
            created_at=now,
        )
    )
    return row


def to_event(row: DomainEvent) -> Event:
    return Event(
        id=row.id,
        type=row.type,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        aggregate_version=row.aggregate_version,
        payload=json.loads(row.payload),
        created_at=row.created_at,
    )


def dispatch(events: list[Event]) -> None:
    with _handlers_lock:
        handlers = list(_handlers)
    for ev in events:
        for handler in handlers:
            try:
                handler(ev)
            except Exception:  # a broken subscriber must not break the request
                log.exception("event handler %r failed for %s", handler, ev.type)


def _after_commit(session: Session) -> None:
    events = session.info.pop(_PENDING_KEY, None)
    if events:
        dispatch(events)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def install(factory: sessionmaker[Session]) -> None:
    """Hook after-commit delivery into a session factory (done once per factory by db.py)."""
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_rollback", _after_rollback)
