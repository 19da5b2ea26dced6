"""Cancelling and re-reserving the same ticket at once never renews the buyer's hold, and a
reprice racing a reservation never reserves at a price the buyer did not see (both
databases, 20 rounds each)."""

from __future__ import annotations

import pytest
from concurrency_helpers import NOW, reserve, reserve_call, run_together

from tests.support import World
from ticketing_app.db import write_session
from ticketing_app.services import orders, tickets

ROUNDS = 20


def test_cancel_and_rereserve_at_once_never_renews_the_hold(db_url: str) -> None:
    world = World(db_url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller).id
        status, first = reserve(db_url, buyer, ticket_id)
        assert status == "ok", first

        def cancel(order_id: str = first) -> str:
            with write_session(db_url) as db:
                return orders.cancel_order(db, user_id=buyer, order_id=order_id, now=NOW).status

        cancelled, again = run_together([cancel, reserve_call(db_url, buyer, ticket_id)])
        assert cancelled == ("ok", "cancelled"), cancelled
        assert again[0] == "refused", again  # still held by the first order, or the cooldown
        assert [o.id for o in world.orders_for(ticket_id)] == [first]


@pytest.mark.usefixtures("no_hoarding_limits")
def test_reprice_racing_a_reservation_never_charges_an_unseen_price(db_url: str) -> None:
    world = World(db_url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller, price=10).id

        def reprice(ticket_id: str = ticket_id) -> None:
            with write_session(db_url) as db:
                tickets.update_ticket(
                    db, user_id=seller, ticket_id=ticket_id, title="Hot", price=99, now=NOW
                )

        def buy(ticket_id: str = ticket_id) -> int:
            with write_session(db_url) as db:
                return orders.reserve_ticket(
                    db.get_bind(), buyer_id=buyer, ticket_id=ticket_id, now=NOW, expected_price=10
                ).order.price_cents

        edited, bought = run_together([reprice, buy])
        placed = world.orders_for(ticket_id)
        if bought[0] == "ok":
            assert bought == ("ok", 1000) and [o.price_cents for o in placed] == [1000]
            assert edited[0] == "refused"  # a reserved ticket cannot be edited
        else:
            assert placed == [] and "now 99.00" in bought[1], bought
            assert edited == ("ok", None)
