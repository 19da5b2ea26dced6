"""Service tests: the builders are `tests.support.World`'s (the `world` fixture, tests/conftest.py)
under the names these tests use (`make_user`, `make_ticket`, `reserve`, `rows`), plus readers
for the outbox (each call uses its own fresh session)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from tests.support import World
from ticketing_app import outbox
from ticketing_app.db import read_session
from ticketing_app.models import DomainEvent, Order, Ticket, User
from ticketing_app.services import orders


@pytest.fixture
def make_user(world: World) -> Callable[..., User]:
    """`make_user(email=None, password=PASSWORD)`: a user with a unique email (unless given)."""
    return world.user


@pytest.fixture
def seller(make_user: Callable[..., User]) -> User:
    return make_user("seller@example.com")


@pytest.fixture
def buyer(make_user: Callable[..., User]) -> User:
    return make_user("buyer@example.com")


@pytest.fixture
def make_ticket(world: World, seller: User) -> Callable[..., Ticket]:
    """`make_ticket(title, price, owner=seller, at=now)`."""

    def make(
        title: str = "Concert",
        price: Any = 20,
        owner: User | None = None,
        at: datetime | None = None,
    ) -> Ticket:
        return world.ticket(owner or seller, title, price, at=at)

    return make


@pytest.fixture
def reserve(world: World) -> Callable[..., orders.OrderWithTicket]:
    """`reserve(buyer, ticket_id, at=now)`: what `orders.reserve_ticket` returns."""
    return world.reserve


@dataclass
class Row:
    ticket: Callable[[str], Ticket]
    order: Callable[[str], Order]
    execute: Callable[[Any], None]


@pytest.fixture
def rows(world: World) -> Row:
    """Read a ticket/order as committed, or run a raw statement (to set up states like `sold`)."""
    return Row(ticket=world.get_ticket, order=world.get_order, execute=world.execute)


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
