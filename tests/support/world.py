"""`World`: the users, tickets, orders and payments a test needs, made through the real services
on one database, and readers of what was stored. Every call opens its own session, as a request
handler or a scheduler job would. The one place tests make data; a change of a service's
signature is fixed here.

    world = World(db_url, now=NOW)         # a fixed clock; World(db_url) reads the real one
    seller, buyer = world.user(), world.user()
    ticket = world.ticket(seller, price="19.99")
    order = world.order(buyer, ticket)     # or world.order(): seller, ticket and buyer made too
    world.get_order(order.id).status

Arguments that name a row take the row or its id. Builders return the stored rows (detached:
their attributes stay readable); `reserve` returns what `orders.reserve_ticket` returns.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, select

from ticketing_app.db import get_engine, read_session, session_factory, write_session
from ticketing_app.models import Charge, DomainEvent, Order, Ticket, User
from ticketing_app.services import auth, orders, payments, tickets

PASSWORD = "correct horse"
TITLE = "Concert"
PRICE = 20
# pm_card_visa succeeds at (local)stripe; pm_card_chargeCustomerFail is declined.
CARD = "pm_card_visa"
ACTIVE = "created"  # the status of an order that holds its ticket


def row_id(row: Any) -> Any:
    """`row.id` for a stored row; anything else (an id, or a bad value under test) as it is."""
    return row.id if isinstance(row, SQLModel) else row


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


class World:
    """Makes and reads data on the database at `url`. `now` fixes the clock every call uses
    (unless given `at=`); without it each call reads the real clock."""

    def __init__(self, url: str, now: datetime | None = None) -> None:
        self.url = url
        self._now = now
        self.new_session = session_factory(url)  # a fresh Session per call, as services expect

    @property
    def now(self) -> datetime:
        return self._now if self._now is not None else datetime.now(UTC)

    # -- making ------------------------------------------------------------------------------
    def user(self, email: str | None = None, password: str = PASSWORD) -> User:
        """A signed-up user (a unique email unless given)."""
        with write_session(self.url) as db:
            user, _token = auth.signup(
                db, email=email or unique_email(), password=password, now=self.now
            )
        return user

    def ticket(
        self, seller: Any, title: Any = TITLE, price: Any = PRICE, at: datetime | None = None
    ) -> Ticket:
        """A ticket listed by `seller`."""
        with write_session(self.url) as db:
            return tickets.create_ticket(
                db, seller_id=row_id(seller), title=title, price=price, now=at or self.now
            )

    def reserve(self, buyer: Any, ticket: Any, at: datetime | None = None) -> Any:
        """`buyer` reserves `ticket`: the service's result (`.order`, `.ticket`)."""
        return orders.reserve_ticket(
            get_engine(self.url),
            buyer_id=row_id(buyer),
            ticket_id=row_id(ticket),
            now=at or self.now,
        )

    def order(
        self,
        buyer: Any = None,
        ticket: Any = None,
        *,
        price: Any = PRICE,
        at: datetime | None = None,
    ) -> Order:
        """An open order of `buyer` for `ticket`; a new buyer, and a new ticket (at `price`,
        from a new seller), when not given."""
        if ticket is None:
            ticket = self.ticket(self.user(), price=price, at=at)
        return self.reserve(buyer or self.user(), ticket, at=at).order

    def edit(
        self,
        seller: Any,
        ticket: Any,
        title: Any = f"{TITLE} (edited)",
        price: Any = 25,
        at: datetime | None = None,
    ) -> Ticket:
        with write_session(self.url) as db:
            return tickets.update_ticket(
                db,
                user_id=row_id(seller),
                ticket_id=row_id(ticket),
                title=title,
                price=price,
                now=at or self.now,
            )

    def cancel_ticket(self, seller: Any, ticket: Any, at: datetime | None = None) -> Ticket:
        with write_session(self.url) as db:
            return tickets.cancel_ticket(
                db, user_id=row_id(seller), ticket_id=row_id(ticket), now=at or self.now
            )

    def cancel_order(self, buyer: Any, order: Any, at: datetime | None = None) -> Order:
        with write_session(self.url) as db:
            return orders.cancel_order(
                db, user_id=row_id(buyer), order_id=row_id(order), now=at or self.now
            )

    def expire_due(self, at: datetime | None = None) -> list[str]:
        """Expire every order due at `at`; the ids expired."""
        with write_session(self.url) as db:
            return orders.expire_due_orders(db, now=at or self.now)

    def pay(
        self,
        order: Any,
        card: str = CARD,
        *,
        buyer: Any = None,
        at: datetime | None = None,
    ) -> Any:
        """The buyer (the order's own unless given) pays `order` with `card` (needs Stripe,
        e.g. localstripe, in the settings): the service's result."""
        if buyer is None:
            buyer = order.user_id if isinstance(order, SQLModel) else self.get_order(order).user_id
        with write_session(self.url) as db:
            return payments.pay_order(
                db,
                buyer_id=row_id(buyer),
                order_id=row_id(order),
                payment_method=card,
                now=at or self.now,
            )

    def busy_day(self) -> int:
        """A bit of everything (sign-ups, a listing edited, reservations cancelled and expired, a
        listing withdrawn); returns how many events it wrote."""
        seller, buyer, next_buyer = self.user(), self.user(), self.user()
        opera = self.ticket(seller, "Opera")
        self.edit(seller, opera)
        self.cancel_order(buyer, self.order(buyer, opera))
        self.order(next_buyer, opera)  # the first buyer is in its re-reserve cooldown
        self.expire_due(self.now + timedelta(days=1))
        self.cancel_ticket(seller, self.ticket(seller, "Jazz"))
        # 3 users + created, edited + (order, ticket) x 4 + created, cancelled
        return 3 + 2 + 8 + 2

    def execute(self, statement: Any, **params: Any) -> None:
        """Run a raw statement (SQL text or a Core statement) in its own transaction: to put a
        row into a state no service reaches (yet)."""
        if isinstance(statement, str):
            statement = sa.text(statement)
        with write_session(self.url) as db, db.begin():
            db.execute(statement, params)

    # -- reading -----------------------------------------------------------------------------
    def get_user(self, user: Any) -> User:
        return self._get(User, user)

    def get_ticket(self, ticket: Any) -> Ticket:
        return self._get(Ticket, ticket)

    def get_order(self, order: Any) -> Order:
        return self._get(Order, order)

    def _get(self, model: Any, row: Any) -> Any:
        with read_session(self.url) as db:
            found = db.get(model, row_id(row))
        assert found is not None, f"no {model.__name__} {row_id(row)}"
        return found

    def orders_for(self, ticket: Any) -> list[Order]:
        """Every order ever placed for `ticket`."""
        with read_session(self.url) as db:
            return list(db.exec(select(Order).where(Order.ticket_id == row_id(ticket))))

    def active_orders(self) -> int:
        """How many orders hold a ticket right now."""
        with read_session(self.url) as db:
            return db.exec(
                select(sa.func.count()).select_from(Order).where(Order.status == ACTIVE)
            ).one()

    def charges(self, order: Any) -> list[Charge]:
        with read_session(self.url) as db:
            return list(
                db.exec(
                    select(Charge)
                    .where(Charge.order_id == row_id(order))
                    .order_by(Charge.created_at)
                )
            )

    def events(self, *aggregates: Any, type: str | None = None) -> list[DomainEvent]:
        """Stored domain events (of these aggregates, of this type), in commit order."""
        query = select(DomainEvent).order_by(DomainEvent.seq)
        if aggregates:
            query = query.where(DomainEvent.aggregate_id.in_([row_id(a) for a in aggregates]))
        if type is not None:
            query = query.where(DomainEvent.type == type)
        with read_session(self.url) as db:
            return list(db.exec(query))

    def event_types(self, *aggregates: Any) -> list[str]:
        return [e.type for e in self.events(*aggregates)]
