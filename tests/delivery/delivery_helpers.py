"""Steps of the delivery tests: list, attach, reserve, pay (localstripe), refund."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from tests.support import Server
from ticketing_app.models import ChargeStatus, utcnow
from ticketing_app.services import stripe_gateway, transitions


def upload(
    client: httpx.Client, ticket_id: str, data: bytes, name: str = "ticket.pdf"
) -> httpx.Response:
    return client.put(
        f"/api/tickets/{ticket_id}/file",
        files={"file": (name, data, "application/octet-stream")},
    )


def new_event(client: httpx.Client) -> dict:
    starts = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, hour=19, minute=30)
    body = {
        "name": f"Nightwish {uuid.uuid4().hex[:6]}",
        "venue": "Olympia",
        "city": "Paris",
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
    }
    r = client.post("/api/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def list_ticket(
    seller: httpx.Client, title: str = "Balcony B12", event_id: str | None = None
) -> dict:
    body: dict = {"title": title, "price": 42.5}
    if event_id:
        body["eventId"] = event_id
    r = seller.post("/api/tickets", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def reserve(buyer: httpx.Client, ticket_id: str) -> dict:
    r = buyer.post("/api/orders", json={"ticketId": ticket_id})
    assert r.status_code == 201, r.text
    return r.json()


def pay(buyer: httpx.Client, order_id: str) -> dict:
    r = buyer.post("/api/payments", json={"token": "pm_card_visa", "orderId": order_id})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    return r.json()


def refund_completed(server: Server, order_id: str, charge: dict) -> None:
    """What refunding a completed order does (the operator's refund, SPEC §12, is not built
    yet): the money back at Stripe (localstripe), then in one transaction the charge
    `refunded` and the e-ticket revoked."""
    refund_id = stripe_gateway.refund_intent(
        charge["stripeId"], idempotency_key=f"test-refund-{order_id}", order_id=order_id
    )
    engine = sa.create_engine(server.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE charges SET status = :s, stripe_refund_id = :r WHERE id = :id"),
                {"s": ChargeStatus.REFUNDED.value, "r": refund_id, "id": charge["id"]},
            )
            assert transitions.revoke_e_tickets(conn, [order_id], utcnow()) == [order_id]
    finally:
        engine.dispose()
