"""JSON shapes of SPEC §4, shared by the REST API, the event payloads and the UI state."""

from __future__ import annotations

from typing import Any

from ticketing_app.models import Charge, Order, Ticket, iso
from ticketing_app.services.validation import price_number


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
    }


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
