"""Watches ("notify me", SPEC §11) and the in-app notifications list.

A watch is (user, event, optional maximum price): one per user and event, set again to change
the maximum. A new listing for the event at or under the maximum (from someone else) gives the
watcher one email and one in-app notification (services/notifications.plan, from its
TicketCreated event)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from ticketing_app.db import after_commit
from ticketing_app.errors import NotFound, RuleViolation
from ticketing_app.models import Event, EventStatus, Notification, Watch, new_id
from ticketing_app.services.events import EVENT_NOT_FOUND
from ticketing_app.services.validation import is_uuid, parse_money, price_number
from ticketing_app.services.views import iso

_W = Watch.__table__


def watch_view(watch: Any, event_name: str) -> dict[str, Any]:
    return {
        "eventId": watch.event_id,
        "eventName": event_name,
        "maxPrice": price_number(watch.max_price_cents) if watch.max_price_cents else None,
        "createdAt": iso(watch.created_at),
    }


def _event(db: Session, event_id: Any) -> Event:
    event = db.get(Event, event_id) if is_uuid(event_id) else None
    if event is None:
        raise NotFound(EVENT_NOT_FOUND)
    return event


def watch_event(
    db: Session, *, user_id: str, event_id: Any, max_price: Any, now: datetime
) -> dict[str, Any]:
    """Watch (or re-set the maximum of) an event; 404 unknown, 400 when it is cancelled."""
    cents = None if max_price is None else parse_money(max_price, "maxPrice", "Maximum price")
    with db.begin():
        event = _event(db, event_id)
        if event.status != EventStatus.SCHEDULED:
            raise RuleViolation("This event was cancelled")
        dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
        db.exec(
            dialect.insert(_W)
            .values(
                id=new_id(),
                user_id=user_id,
                event_id=event.id,
                max_price_cents=cents,
                created_at=now,
            )
            .on_conflict_do_update(
                index_elements=["user_id", "event_id"], set_={"max_price_cents": cents}
            )
        )
        watch = db.exec(
            select(Watch).where(Watch.user_id == user_id, Watch.event_id == event.id)
        ).one()
        return watch_view(watch, event.name)


def unwatch_event(db: Session, *, user_id: str, event_id: Any) -> None:
    """Stop watching (a no-op when not watching); 404 for an unknown event."""
    with db.begin():
        event = _event(db, event_id)
        db.exec(sa.delete(Watch).where(Watch.user_id == user_id, Watch.event_id == event.id))


def list_watches(db: Session, *, user_id: str) -> list[dict[str, Any]]:
    with db.begin():
        rows = db.exec(
            select(Watch, Event.name)
            .join(Event, Event.id == Watch.event_id)
            .where(Watch.user_id == user_id)
            .order_by(Watch.created_at.desc(), Watch.id)
        ).all()
    return [watch_view(w, name) for w, name in rows]


def notification_view(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "text": n.text,
        "link": n.link,
        "createdAt": iso(n.created_at),
        "read": n.read_at is not None,
    }


def list_notifications(db: Session, *, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with db.begin():
        rows = db.exec(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id)
            .limit(limit)
        ).all()
    return [notification_view(n) for n in rows]


# -- "this user's unread count changed" (the live bell) ----------------------------------------
log = logging.getLogger(__name__)
_unread_listeners: list[Callable[[set[str]], None]] = []


def on_unread_changed(callback: Callable[[set[str]], None]) -> Callable[[], None]:
    """Call `callback(user_ids)` after a commit that changed those users' unread counts (new
    in-app notifications, all marked read); returns a function that removes it. The bus
    (jobs/__init__.py) turns it into a live push to those users' tabs, on every worker."""
    _unread_listeners.append(callback)
    return lambda: _unread_listeners.remove(callback) if callback in _unread_listeners else None


def unread_changed(conn: sa.Connection, user_ids: Iterable[str]) -> None:
    """Signal `user_ids` once the transaction open on `conn` commits (never if it rolls back)."""
    users = {u for u in user_ids if u}
    if users:
        after_commit(conn, lambda: _signal(users))


def _signal(users: set[str]) -> None:
    for callback in list(_unread_listeners):
        try:
            callback(users)
        except Exception:
            log.exception("unread-count listener failed")


def unread_count(db: Session, *, user_id: str) -> int:
    with db.begin():
        return db.exec(
            select(sa.func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        ).one()


def mark_all_read(db: Session, *, user_id: str, now: datetime) -> int:
    with db.begin():
        marked = db.exec(
            sa.update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now)
        ).rowcount
        if marked:  # the user's other tabs: their bells go to 0 too
            unread_changed(db.connection(), [user_id])
        return marked


def notifications_page(db: Session, *, user_id: str) -> tuple[list[dict[str, Any]], int]:
    """The newest notifications and how many are unread."""
    return list_notifications(db, user_id=user_id), unread_count(db, user_id=user_id)
