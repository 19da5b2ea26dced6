"""JSON shapes of SPEC §4, shared by the REST API, the event payloads and the UI state."""

from __future__ import annotations

from typing import Any

from ticketing_app.models import Charge, Event, Order, Ticket, iso
from ticketing_app.services.validation import price_number


def _price_or_none(cents: int | None) -> int | float | None:
    return None if cents is None else price_number(cents)


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "title": ticket.title,
        "price": price_number(ticket.price_cents),
        "userId": ticket.user_id,
        "orderId": ticket.order_id,
        "status": ticket.status,
        "version": ticket.version,
        "createdAt": iso(ticket.created_at),
        "updatedAt": iso(ticket.updated_at),
        "eventId": ticket.event_id,
        "faceValue": _price_or_none(ticket.face_value_cents),
        "hasFile": False,  # ticket files come with SPEC §10
        # Why the listing left the market without its seller cancelling it (or null).
        "withdrawnReason": ticket.withdrawn_reason,
    }


def event_view(
    event: Event, tickets_available: int | None = None, lowest_price_cents: int | None = None
) -> dict[str, Any]:
    """SPEC §9 Event JSON; without the two figures (domain event payloads) they are omitted."""
    view: dict[str, Any] = {
        "id": event.id,
        "name": event.name,
        "venue": event.venue,
        "city": event.city,
        "startsAt": iso(event.starts_at),
        "status": event.status,
    }
    if tickets_available is not None:
        view["ticketsAvailable"] = tickets_available
        view["lowestPrice"] = _price_or_none(lowest_price_cents)
    return view


def order_view(order: Order, ticket: Ticket) -> dict[str, Any]:
    return {
        "id": order.id,
        "userId": order.user_id,
        "status": order.status,
        "price": price_number(order.price_cents),
        "expiresAt": iso(order.expires_at),
        "createdAt": iso(order.created_at),
        "ticket": {
            "id": ticket.id,
            "title": ticket.title,
            "price": price_number(order.price_cents),
        },
    }


def charge_view(charge: Charge) -> dict[str, Any]:
    return {
        "id": charge.id,
        "orderId": charge.order_id,
        "status": charge.status,
        "amount": price_number(charge.amount_cents),
        "stripeId": charge.stripe_id,
        "stripeRefundId": charge.stripe_refund_id,
    }
