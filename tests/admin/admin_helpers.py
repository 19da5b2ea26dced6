"""Builders for the operator tests: an operator, an event with listings in every state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.support import World
from ticketing_app.db import read_session, write_session
from ticketing_app.models import AuditEntry, Event
from ticketing_app.services import events, operators, tickets
from ticketing_app.services.auth import SignedIn


def make_operator(world: World) -> SignedIn:
    user = world.user()
    with write_session(world.url) as db:
        operators.set_operator(db, email=user.email, operator=True, now=world.now)
    return SignedIn(id=user.id, email=user.email, is_operator=True)


def as_signed_in(user: Any) -> SignedIn:
    return SignedIn(id=user.id, email=user.email, is_operator=False)


def make_event(world: World, name: str = "Opera night", days: int = 10) -> Event:
    with write_session(world.url) as db:
        return events.create_event(
            db,
            user_id=world.user().id,
            name=name,
            venue="Royal Hall",
            city="London",
            starts_at=world.now + timedelta(days=days),
            now=world.now,
        ).event


def event_ticket(world: World, seller: Any, event: Event, price: Any = 20) -> Any:
    with write_session(world.url) as db:
        return tickets.create_ticket(
            db, seller_id=seller.id, title="Stalls", price=price, now=world.now, event_id=event.id
        )


@dataclass
class Show:
    """An event with 3 available, 2 reserved and 2 paid tickets (SPEC §12's must-show)."""

    event: Event
    seller: Any
    available: list[Any] = field(default_factory=list)
    reserved: list[Any] = field(default_factory=list)  # orders
    paid: list[Any] = field(default_factory=list)  # orders (complete)

    @property
    def tickets(self) -> list[str]:
        return (
            [t.id for t in self.available]
            + [o.ticket_id for o in self.reserved]
            + [o.ticket_id for o in self.paid]
        )


def make_show(world: World) -> Show:
    event = make_event(world)
    show = Show(event=event, seller=world.user())
    for _ in range(3):
        show.available.append(event_ticket(world, show.seller, event))
    for _ in range(2):
        show.reserved.append(world.order(world.user(), event_ticket(world, show.seller, event)))
    for _ in range(2):
        order = world.order(world.user(), event_ticket(world, show.seller, event))
        world.pay(order)
        show.paid.append(world.get_order(order.id))
    return show


def audit_rows(world: World, **where: Any) -> list[AuditEntry]:
    with read_session(world.url) as db:
        query = sa.select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return list(db.execute(query).scalars())
