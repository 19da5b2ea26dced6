"""Helpers for the expiry/live tests: real services on one database, and polling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from ticketing_app.db import read_session, write_session
from ticketing_app.models import DomainEvent, Order, Ticket, User
from ticketing_app.services import auth, orders, tickets

LOCK_SECONDS = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


class Market:
    """Users, tickets and orders made through the real services on one database."""

    def __init__(self, url: str) -> None:
        self.url = url

    def user(self) -> User:
        with write_session(self.url) as db:
            user, _ = auth.signup(
                db,
                email=f"u-{uuid.uuid4().hex[:10]}@example.com",
                password="pw-123456",
                now=utcnow(),
            )
        return user

    def ticket(self, seller: User, title: str = "Concert", price: Any = 20) -> Ticket:
        with write_session(self.url) as db:
            return tickets.create_ticket(
                db, seller_id=seller.id, title=title, price=price, now=utcnow()
            )

    def reserve(self, buyer: User, ticket: Ticket, at: datetime | None = None) -> Order:
        with write_session(self.url) as db:
            return orders.reserve_ticket(
                db.get_bind(), buyer_id=buyer.id, ticket_id=ticket.id, now=at or utcnow()
            ).order

    def order(self, order_id: str) -> Order:
        with read_session(self.url) as db:
            found = db.get(Order, order_id)
            assert found is not None
            return found

    def ticket_row(self, ticket_id: str) -> Ticket:
        with read_session(self.url) as db:
            found = db.get(Ticket, ticket_id)
            assert found is not None
            return found

    def events(self, type: str) -> list[str]:
        """aggregate ids of stored events of `type`, in commit order."""
        with read_session(self.url) as db:
            return list(
                db.exec(
                    select(DomainEvent.aggregate_id)
                    .where(DomainEvent.type == type)
                    .order_by(DomainEvent.seq)
                )
            )

    def active_count(self) -> int:
        with read_session(self.url) as db:
            return db.exec(
                select(sa.func.count()).select_from(Order).where(Order.status == "created")
            ).one()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    """Poll until `predicate()`; returns the monotonic time it became true, fails on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
