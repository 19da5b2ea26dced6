"""The seller's listings read (the /listings page): every status, newest first, and how long
an active hold still lasts; never another seller's tickets, never an ended order's expiry."""

from __future__ import annotations

from datetime import timedelta

from ticketing_app.services import listings, orders, tickets


def test_seller_listings_show_every_status_with_active_hold_expiry(
    make_ticket, make_user, reserve, seller, buyer, new_session, now
) -> None:
    held = make_ticket(title="Held", at=now)
    released = make_ticket(title="Released", at=now + timedelta(seconds=1))
    withdrawn = make_ticket(title="Withdrawn", at=now + timedelta(seconds=2))
    make_ticket(title="Someone else's", owner=make_user())
    hold = reserve(buyer, held.id)
    cancelled = reserve(buyer, released.id)
    with new_session() as db:
        orders.cancel_order(db, user_id=buyer.id, order_id=cancelled.order.id, now=now)
    with new_session() as db:
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=withdrawn.id, now=now)

    with new_session() as db:
        rows = listings.seller_listings(db, seller_id=seller.id)

    assert [(r.ticket.title, r.ticket.status) for r in rows] == [
        ("Withdrawn", "cancelled"),
        ("Released", "available"),
        ("Held", "reserved"),
    ]
    by_title = {r.ticket.title: r.hold_expires_at for r in rows}
    assert by_title["Held"] == hold.order.expires_at
    assert by_title["Released"] is None
    assert by_title["Withdrawn"] is None


def test_seller_without_listings_gets_an_empty_list(new_session, seller) -> None:
    with new_session() as db:
        assert listings.seller_listings(db, seller_id=seller.id) == []
