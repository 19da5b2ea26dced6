"""Who gets pushed what: events from the real services mapped to topics, and the registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import World
from ticketing_app import live, outbox
from ticketing_app.outbox import Event


@pytest.fixture
def seen() -> Iterator[list[Event]]:
    events: list[Event] = []
    unsubscribe = outbox.subscribe(events.append)
    yield events
    unsubscribe()


def test_a_reservation_reaches_the_market_the_ticket_page_the_seller_and_the_buyer(
    world: World, seen: list[Event]
) -> None:
    seller, buyer = world.user(), world.user()
    ticket = world.ticket(seller)
    seen.clear()
    order = world.order(buyer, ticket)
    topics = set().union(*(live.topics_for(e) for e in seen))
    assert topics == {
        live.TICKETS,
        live.ticket_topic(ticket.id),
        live.seller_topic(seller.id),
        live.order_topic(order.id),
        live.buyer_topic(buyer.id),
    }


def test_a_price_edit_reaches_the_market_the_ticket_page_and_the_seller_only(
    world: World, seen: list[Event]
) -> None:
    seller = world.user()
    ticket = world.ticket(seller)
    seen.clear()
    world.edit(seller, ticket, title="Concert", price=31.5, at=ticket.created_at)
    assert [e.type for e in seen] == ["TicketUpdated"]
    assert live.topics_for(seen[0]) == {
        live.TICKETS,
        live.ticket_topic(ticket.id),
        live.seller_topic(seller.id),
    }


class PageA:
    pass


class PageB:
    pass


def test_watchers_are_per_client_and_state_and_replaced_by_the_next_watch() -> None:
    live.watch("tok-1", PageA, [live.TICKETS])
    live.watch("tok-1", PageB, [live.order_topic("o1")])
    live.watch("tok-2", PageA, [live.ticket_topic("t1")])
    try:
        assert set(live.watchers_for([live.TICKETS])) == {("tok-1", PageA)}
        assert set(live.watchers_for([live.ticket_topic("t1"), live.order_topic("o1")])) == {
            ("tok-1", PageB),
            ("tok-2", PageA),
        }
        live.watch("tok-1", PageA, [live.ticket_topic("t9")])  # tab 1 moved to another list
        assert live.watchers_for([live.TICKETS]) == []
        live.unwatch("tok-1")
        assert live.watchers_for([live.order_topic("o1")]) == []
        live.watch("", PageA, [live.TICKETS])  # no token, nothing registered
        assert live.watchers_for([live.TICKETS]) == []
    finally:
        live.unwatch("tok-1")
        live.unwatch("tok-2")


def test_the_unread_signal_reaches_only_that_users_bell() -> None:
    topics = live.topics_for(live.unread_changed_event("user-1"))
    assert topics == {live.notifications_topic("user-1")}
    assert live.notifications_topic("user-2") not in topics
