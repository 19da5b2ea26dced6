"""Rules 5 and 6 under contention: a due order ends exactly once, and whoever ends it, the
ticket goes to the next buyer and is never released from under them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from concurrency_helpers import NOW, WINDOW, reserve, reserve_call, run_together

from tests.support import World
from ticketing_app.db import write_session
from ticketing_app.services import orders

ROUNDS = 10
LATER = NOW + WINDOW + timedelta(seconds=1)


def expire_call(url: str, order_id: str):
    def call() -> bool:
        with write_session(url) as db:
            return orders.expire_order(db, order_id=order_id, now=LATER)

    return call


def sweep_call(url: str):
    def call() -> list[str]:
        with write_session(url) as db:
            return orders.expire_due_orders(db, now=LATER)

    return call


def cancel_call(url: str, buyer_id: str, order_id: str):
    def call() -> str:
        with write_session(url) as db:
            return orders.cancel_order(db, user_id=buyer_id, order_id=order_id, now=LATER).status

    return call


def assert_next_buyer_holds(url: str, ticket_id: str, old: str, new: tuple) -> None:
    world = World(url, now=NOW)
    assert new[0] == "ok", new
    by_id = {o.id: o for o in world.orders_for(ticket_id)}
    assert set(by_id) == {old, new[1]}
    assert by_id[new[1]].status == "created"
    ticket = world.get_ticket(ticket_id)
    # created (1), reserved by old (2), released (3), reserved by the new order (4)
    assert (ticket.status, ticket.order_id, ticket.version) == ("reserved", new[1], 4)


@pytest.mark.usefixtures("no_hoarding_limits")
def test_expirers_and_a_reserver_expire_a_due_order_exactly_once(db_url: str) -> None:
    url = db_url
    world = World(url, now=NOW)
    seller, first, second = world.user().id, world.user().id, world.user().id
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller).id
        old = reserve(url, first, ticket_id)[1]
        calls = [expire_call(url, old) for _ in range(3)] + [sweep_call(url) for _ in range(3)]
        results = run_together([*calls, reserve_call(url, second, ticket_id, LATER)])
        *expirers, new = results
        assert all(status == "ok" for status, _ in expirers), expirers
        by_expirers = sum(1 for _, v in expirers if v is True or (isinstance(v, list) and old in v))
        assert by_expirers <= 1
        assert len(world.events(old, type="OrderExpired")) == 1
        assert_next_buyer_holds(url, ticket_id, old, new)
        assert {o.id: o.status for o in world.orders_for(ticket_id)}[old] == "expired"


@pytest.mark.usefixtures("no_hoarding_limits")
def test_late_cancel_racing_the_next_buyer_ends_the_old_order_once(db_url: str) -> None:
    """The old buyer cancels just as the hold lapses and another buyer reserves: whichever
    ends the old order, it ends once, and the cancel never releases the new hold."""
    url = db_url
    world = World(url, now=NOW)
    seller, first, second = world.user().id, world.user().id, world.user().id
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller).id
        old = reserve(url, first, ticket_id)[1]
        cancelled, expired, new = run_together(
            [
                cancel_call(url, first, old),
                expire_call(url, old),
                reserve_call(url, second, ticket_id, LATER),
            ]
        )
        assert cancelled[0] == "ok" and cancelled[1] in ("cancelled", "expired"), cancelled
        assert expired[0] == "ok", expired
        ended = sum(e.type in ("OrderExpired", "OrderCancelled") for e in world.events(old))
        assert ended == 1
        assert_next_buyer_holds(url, ticket_id, old, new)
