"""The seller edits or cancels a listing while buyers reserve it.

Correct outcomes: the edit commits first and the order carries the new price, or the
reservation commits first and the edit is refused ("Cannot edit a reserved ticket"). Never an
order whose price differs from the price the ticket had when it was locked.
"""

from __future__ import annotations

import pytest
from concurrency_helpers import ALREADY_RESERVED_OUTCOME, NOW, reserve_call, run_together

from tests.support import World
from ticketing_app.db import write_session
from ticketing_app.services import tickets

ROUNDS = 20
BUYERS = 3


@pytest.mark.usefixtures("no_hoarding_limits")
def test_edit_versus_reserve_never_leaves_a_stale_price(db_url: str) -> None:
    url = db_url
    world = World(url, now=NOW)
    seller = world.user().id
    buyers = [world.user().id for _ in range(BUYERS)]
    seen: set[str] = set()
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller, "Hot ticket", price=20).id

        def edit(ticket_id: str = ticket_id) -> int:
            with write_session(url) as db:
                return tickets.update_ticket(
                    db, user_id=seller, ticket_id=ticket_id, title="Repriced", price=35, now=NOW
                ).price_cents

        edited, *reserves = run_together([edit, *(reserve_call(url, b, ticket_id) for b in buyers)])
        winners = [value for status, value in reserves if status == "ok"]
        assert len(winners) == 1, reserves
        assert [r for r in reserves if r[0] != "ok"] == [ALREADY_RESERVED_OUTCOME] * (BUYERS - 1)
        (order,) = world.orders_for(ticket_id)
        ticket = world.get_ticket(ticket_id)
        assert (ticket.status, ticket.order_id) == ("reserved", order.id)
        assert order.price_cents == ticket.price_cents
        if edited == ("ok", 3500):
            seen.add("edit first")
            assert (ticket.title, order.price_cents, ticket.version) == ("Repriced", 3500, 3)
        else:
            seen.add("reserve first")
            assert edited == ("refused", "Cannot edit a reserved ticket"), edited
            assert (ticket.title, order.price_cents, ticket.version) == ("Hot ticket", 2000, 2)
    assert seen  # which orders occurred depends on scheduling; each is checked when it does


@pytest.mark.usefixtures("no_hoarding_limits")
def test_cancel_listing_versus_reserve_one_outcome_with_its_own_message(db_url: str) -> None:
    url = db_url
    world = World(url, now=NOW)
    seller, buyer = world.user().id, world.user().id
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller).id

        def cancel(ticket_id: str = ticket_id) -> str:
            with write_session(url) as db:
                return tickets.cancel_ticket(
                    db, user_id=seller, ticket_id=ticket_id, now=NOW
                ).status

        cancelled, reserved = run_together([cancel, reserve_call(url, buyer, ticket_id)])
        ticket = world.get_ticket(ticket_id)
        if cancelled[0] == "ok":
            assert reserved == ("refused", "Ticket is no longer for sale"), reserved
            assert (ticket.status, ticket.order_id, world.orders_for(ticket_id)) == (
                "cancelled",
                None,
                [],
            )
        else:
            assert cancelled == ("refused", "Cannot cancel a reserved ticket"), cancelled
            assert reserved[0] == "ok" and ticket.order_id == reserved[1]
