"""Helpers for service tests: users, tickets and reservations made through the real services,
and readers for the outbox and raw rows (each call uses its own fresh session)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.db import read_session
from ticketing_app.models import DomainEvent, Order, Ticket, User
from ticketing_app.services import auth, orders, tickets

PASSWORD = "correct horse"


@pytest.fixture
def make_user(new_session: Callable[[], Session], now: datetime) -> Callable[..., User]:
    """Sign up a user with a unique email (or the given one)."""

    def make(email: str | None = None, password: str = PASSWORD) -> User:
        with new_session() as db:
            user, _token = auth.signup(
                db,
                email=email or f"u-{uuid.uuid4().hex[:10]}@example.com",
                password=password,
                now=now,
            )
        return user

    return make


@pytest.fixture
def seller(make_user: Callable[..., User]) -> User:
    return make_user("seller@example.com")


@pytest.fixture
def buyer(make_user: Callable[..., User]) -> User:
    return make_user("buyer@example.com")


@pytest.fixture
def make_ticket(
    new_session: Callable[[], Session], now: datetime, seller: User
) -> Callable[..., Ticket]:
    def make(
        title: str = "Concert",
        price: Any = 20,
        owner: User | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        with new_session() as db:
            return tickets.create_ticket(
                db, seller_id=(owner or seller).id, title=title, price=price, now=at or now
            )

    return make


@pytest.fixture
def reserve(
    new_session: Callable[[], Session], now: datetime
) -> Callable[..., orders.OrderWithTicket]:
    def make(buyer: User, ticket_id: str, at: datetime | None = None) -> orders.OrderWithTicket:
        with new_session() as db:
            return orders.reserve_ticket(
                db.get_bind(), buyer_id=buyer.id, ticket_id=ticket_id, now=at or now
            )

    return make


@dataclass
class Row:
    ticket: Callable[[str], Ticket]
    order: Callable[[str], Order]
    execute: Callable[[Any], None]


@pytest.fixture
def rows(db_url: str, new_session: Callable[[], Session]) -> Row:
    """Read a ticket/order as committed, or run a raw statement (to set up states like `sold`)."""

    def ticket(ticket_id: str) -> Ticket:
        with read_session(db_url) as db:
            found = db.get(Ticket, ticket_id)
            assert found is not None
            return found

    def order(order_id: str) -> Order:
        with read_session(db_url) as db:
            found = db.get(Order, order_id)
            assert found is not None
            return found

    def execute(statement: Any) -> None:
        with new_session() as db, db.begin():
            db.exec(statement)

    return Row(ticket=ticket, order=order, execute=execute)


@dataclass(frozen=True)
class StoredEvent:
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    payload: dict[str, Any]


@pytest.fixture
def stored_events(db_url: str) -> Callable[..., list[StoredEvent]]:
    """The outbox rows in commit order, optionally only those after a given count."""

    def read(after: int = 0) -> list[StoredEvent]:
        with read_session(db_url) as db:
            found = db.exec(select(DomainEvent).order_by(DomainEvent.seq)).all()
        return [
            StoredEvent(
                e.type, e.aggregate_type, e.aggregate_id, e.aggregate_version, json.loads(e.payload)
            )
            for e in found[after:]
        ]

    return read


@pytest.fixture
def event_count(db_url: str) -> Callable[[], int]:
    def count() -> int:
        with read_session(db_url) as db:
            return db.exec(select(sa.func.count()).select_from(DomainEvent)).one()

    return count


@pytest.fixture
def delivered() -> Iterator[list[outbox.Event]]:
    """Events handed to in-process subscribers during the test."""
    received: list[outbox.Event] = []
    unsubscribe = outbox.subscribe(received.append)
    yield received
    unsubscribe()
