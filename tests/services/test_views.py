"""JSON shapes of SPEC §4 produced from real rows: money in major units, times ISO 8601 `Z`."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ticketing_app.models import Ticket
from ticketing_app.services.views import order_view, ticket_view


def test_ticket_view_shape(make_ticket, seller, now):
    ticket = make_ticket(title="Gig", price="19.99")
    assert ticket_view(ticket) == {
        "id": ticket.id,
        "title": "Gig",
        "price": 19.99,
        "userId": seller.id,
        "orderId": None,
        "status": "available",
        "version": 1,
        "createdAt": "2026-11-25T12:00:00.000Z",
        "updatedAt": "2026-11-25T12:00:00.000Z",
        "eventId": None,
        "faceValue": None,
        "hasFile": False,
        "withdrawnReason": None,
    }
    assert ticket_view(make_ticket(price=20))["price"] == 20


def test_order_view_shows_the_snapshot_price(make_ticket, buyer, reserve, rows, now):
    ticket = make_ticket(title="Gig", price=20)
    result = reserve(buyer, ticket.id, at=now + timedelta(seconds=1, microseconds=5000))
    rows.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(price_cents=9900))
    view = order_view(result.order, rows.ticket(ticket.id))
    assert view == {
        "id": result.order.id,
        "userId": buyer.id,
        "status": "created",
        "price": 20,
        "fee": 0,  # SPEC §12, no fee configured here (tests/services/test_fees.py)
        "total": 20,
        "expiresAt": "2026-11-25T12:15:01.005Z",
        "createdAt": "2026-11-25T12:00:01.005Z",
        "ticket": {"id": ticket.id, "title": "Gig", "price": 20, "hasFile": False},
        "eTicket": None,  # until the order completes (tests/services/test_delivery.py)
    }
