"""Exact interleavings on PostgreSQL (READ COMMITTED): another transaction commits at a chosen
point inside a service call, by a hook on the statement the call just ran.

SQLite cannot interleave this way: `BEGIN IMMEDIATE` serialises writers, which the races in
the other modules of this folder exercise instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from concurrency_helpers import NOW, WINDOW, reserve
from sqlalchemy import Engine, event

from tests.support import World
from ticketing_app.db import DriverQuery, get_engine, read_session, write_session
from ticketing_app.errors import RuleViolation
from ticketing_app.models import Order
from ticketing_app.services import orders, tickets


@pytest.fixture
def after_statement(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, Callable[[], None]], None]]:
    """`after_statement(prefix, action)`: run `action` once, right after this thread's next
    statement starting with `prefix` (another session, so it commits on its own connection).
    Statements run through SQLAlchemy and through `DriverQuery` (the reservation's refusal
    read, which bypasses SQLAlchemy's events) both count."""
    engine = get_engine(postgres_url)
    armed: list[tuple[str, Callable[[], None], int]] = []

    def ran(statement: str) -> None:
        if armed and armed[0][2] == threading.get_ident() and statement.startswith(armed[0][0]):
            _, action, _ = armed.pop()
            action()

    def hook(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        ran(statement)

    driver_first = DriverQuery.first

    def first(self: DriverQuery, engine: Engine, params: dict) -> tuple | None:  # type: ignore[type-arg]
        row = driver_first(self, engine, params)
        ran(self._compile(engine.dialect)[0])
        return row

    monkeypatch.setattr(DriverQuery, "first", first)
    event.listen(engine, "after_cursor_execute", hook)

    def arm(prefix: str, action: Callable[[], None]) -> None:
        armed.append((prefix, action, threading.get_ident()))

    yield arm
    event.remove(engine, "after_cursor_execute", hook)
    assert not armed, "the hooked statement never ran"


def held_past_due(url: str) -> tuple[str, str, str, datetime]:
    """A ticket held by a first buyer's order, and a moment when that hold is past due:
    (a second buyer, the ticket, the holding order, that moment)."""
    world = World(url, now=NOW)
    seller, first, second = world.user().id, world.user().id, world.user().id
    ticket_id = world.ticket(seller).id
    old = reserve(url, first, ticket_id)[1]
    return second, ticket_id, old, NOW + WINDOW + timedelta(seconds=1)


def assert_second_buyer_wins(url: str, buyer: str, ticket_id: str, at: datetime) -> None:
    world = World(url, now=NOW)
    result = reserve(url, buyer, ticket_id, now=at)
    assert result[0] == "ok", result
    ticket = world.get_ticket(ticket_id)
    assert (ticket.status, ticket.order_id) == ("reserved", result[1])


def test_reserve_succeeds_when_the_hold_expires_between_its_reads(postgres_url, after_statement):
    """A reserver reads the ticket (held, past due); the sweep expires that hold and commits;
    the reserver then finds the hold already expired. The ticket is available: it must win,
    not answer "Ticket is already reserved" from its stale read of the ticket."""
    url = postgres_url
    second, ticket_id, old, later = held_past_due(url)

    def sweep() -> None:
        with write_session(url) as db:
            assert orders.expire_order(db, order_id=old, now=later)

    after_statement("SELECT tickets.", sweep)
    assert_second_buyer_wins(url, second, ticket_id, later)


def test_reserve_succeeds_when_the_hold_is_released_between_its_update_and_its_read(
    postgres_url, after_statement
):
    """The reserver's conditional UPDATE finds the ticket still held (past due); the sweep then
    expires that hold and commits; the reserver's follow-up read finds the ticket available.
    It must lock it, not answer "Ticket is already reserved" (a CI run caught this)."""
    url = postgres_url
    second, ticket_id, old, later = held_past_due(url)

    def sweep() -> None:
        with write_session(url) as db:
            assert orders.expire_due_orders(db, now=later) == [old]

    after_statement("UPDATE tickets", sweep)
    assert_second_buyer_wins(url, second, ticket_id, later)


def test_reserve_after_concurrent_price_edit_snapshots_new_price(postgres_url, after_statement):
    """The seller's edit commits after the reserver read the old price: the order must carry
    the price the ticket has when it is locked."""
    url = postgres_url
    world = World(url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    ticket_id = world.ticket(seller, price=20).id

    def edit() -> None:
        with write_session(url) as db:
            tickets.update_ticket(
                db, user_id=seller, ticket_id=ticket_id, title="Hot ticket", price=35, now=NOW
            )

    after_statement("SELECT tickets.", edit)
    status, order_id = reserve(url, buyer, ticket_id)
    assert status == "ok", order_id
    with read_session(url) as db:
        assert db.get(Order, order_id).price_cents == 3500
    assert world.get_ticket(ticket_id).price_cents == 3500


def test_edit_refused_when_reserve_commits_after_its_read(postgres_url, after_statement):
    """The seller's edit read the ticket as available; a buyer reserves and commits before the
    edit writes. The edit must be refused, and the order keeps the price it was reserved at."""
    url = postgres_url
    world = World(url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    ticket_id = world.ticket(seller, price=20).id
    reserved: list[tuple] = []
    after_statement("SELECT tickets.", lambda: reserved.append(reserve(url, buyer, ticket_id)))
    with write_session(url) as db, pytest.raises(RuleViolation) as err:
        tickets.update_ticket(
            db, user_id=seller, ticket_id=ticket_id, title="Hot ticket", price=35, now=NOW
        )
    assert err.value.message == "Cannot edit a reserved ticket"
    assert reserved[0][0] == "ok"
    with read_session(url) as db:
        assert db.get(Order, reserved[0][1]).price_cents == 2000
    assert world.get_ticket(ticket_id).price_cents == 2000


def test_reserve_refused_with_the_real_reason_when_listing_cancelled_after_its_read(
    postgres_url, after_statement
):
    """The seller cancels the listing after the reserver read it as available: the buyer is told
    the ticket is no longer for sale (it used to say "Ticket is already reserved")."""
    url = postgres_url
    world = World(url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    ticket_id = world.ticket(seller).id

    def cancel_listing() -> None:
        with write_session(url) as db:
            tickets.cancel_ticket(db, user_id=seller, ticket_id=ticket_id, now=NOW)

    after_statement("SELECT tickets.", cancel_listing)
    assert reserve(url, buyer, ticket_id) == ("refused", "Ticket is no longer for sale")
    assert world.get_ticket(ticket_id).status == "cancelled"


def test_cancel_committed_between_the_refusal_read_and_the_lock_still_counts(
    postgres_url, after_statement
):
    """The buyer's own cancel commits after the reservation's first read saw the ticket held
    by that buyer's order: the lock then succeeds, and the cooldown check after it must see
    the cancel (no renewed hold)."""
    url = postgres_url
    world = World(url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    ticket_id = world.ticket(seller).id
    status, first = reserve(url, buyer, ticket_id)
    assert status == "ok", first
    # Past due for the read, so it does not refuse plainly; the cancel commits right after it.
    later = NOW + WINDOW - timedelta(seconds=1)

    def cancel() -> None:
        with write_session(url) as db:
            orders.cancel_order(db, user_id=buyer, order_id=first, now=later)

    after_statement("SELECT tickets.user_id", cancel)
    status, message = reserve(url, buyer, ticket_id, later + timedelta(seconds=2))
    assert status == "refused" and "ended without payment" in message, message
    placed = world.orders_for(ticket_id)
    assert [(o.id, o.status) for o in placed] == [(first, "cancelled")]  # the cancel ran first
