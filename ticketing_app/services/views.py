"""JSON shapes of SPEC §4, shared by the REST API, the event payloads and the UI state."""

from __future__ import annotations

from typing import Any

from ticketing_app.models import Charge, Event, Order, OrderStatus, Ticket, iso
from ticketing_app.services.validation import price_number
from ticketing_app.settings import get_settings


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
        "hasFile": bool(ticket.has_file),
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


def verify_url(code: str) -> str:
    """Where the e-ticket's QR code points: the public `/verify/<code>` page."""
    return f"{get_settings().public_url.rstrip('/')}/verify/{code}"


def eticket_view(order: Order) -> dict[str, str] | None:
    """The buyer's `eTicket` (SPEC §10): while the order is complete and its code not revoked
    (a refund revokes it: transitions.revoke_e_tickets)."""
    if (
        order.status != OrderStatus.COMPLETE
        or not order.e_ticket_code
        or order.e_ticket_revoked_at is not None
    ):
        return None
    return {"code": order.e_ticket_code, "url": verify_url(order.e_ticket_code)}


def order_view(order: Order, ticket: Ticket) -> dict[str, Any]:
    """The buyer's order JSON (only ever shown to its buyer: it carries the e-ticket code)."""
    return {
        "id": order.id,
        "userId": order.user_id,
        "status": order.status,
        "price": price_number(order.price_cents),
        # SPEC §12: the buyer fee and the all-in total (what the card is charged), as
        # snapshotted when the order was created.
        "fee": price_number(order.fee_cents),
        "total": price_number(order.total_cents),
        "expiresAt": iso(order.expires_at),
        "createdAt": iso(order.created_at),
        "ticket": {
            "id": ticket.id,
            "title": ticket.title,
            "price": price_number(order.price_cents),
            "hasFile": bool(ticket.has_file),
        },
        "eTicket": eticket_view(order),
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
