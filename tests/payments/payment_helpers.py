"""Helpers for the payment tests (imported by the test modules as `payment_helpers`; the
fixtures that build them are in conftest.py): webhook signing and payloads, and `World`,
users/tickets/orders made through the real services plus readers of what was stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select
from stripe_server import SECRET_KEY, WEBHOOK_SECRET, LocalStripe  # noqa: F401  (re-exported)

from ticketing_app.models import Charge, DomainEvent, Order, Ticket, User
from ticketing_app.services import auth, orders, tickets


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A `Stripe-Signature` header exactly as Stripe (and localstripe) computes it."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_payload(
    intent: Any, type: str = "payment_intent.succeeded", event_id: str | None = None
) -> bytes:
    """A Stripe event envelope around a PaymentIntent, as Stripe sends it."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent.to_dict() if hasattr(intent, "to_dict") else intent},
    }
    return json.dumps(event).encode()


@dataclass
class World:
    """Makes users, tickets and orders through the real services, and reads rows back."""

    new_session: Callable[[], Session]
    now: datetime

    def user(self) -> User:
        with self.new_session() as db:
            user, _ = auth.signup(
                db,
                email=f"u-{uuid.uuid4().hex[:10]}@example.com",
                password="correct horse",
                now=self.now,
            )
        return user

    def order(self, price: Any = 20, buyer: User | None = None) -> Order:
        seller, buyer = self.user(), buyer or self.user()
        with self.new_session() as db:
            ticket = tickets.create_ticket(
                db, seller_id=seller.id, title="Gig", price=price, now=self.now
            )
        with self.new_session() as db:
            return orders.reserve_ticket(
                db.get_bind(), buyer_id=buyer.id, ticket_id=ticket.id, now=self.now
            ).order

    def get_order(self, order_id: str) -> Order:
        with self.new_session() as db:
            found = db.get(Order, order_id)
            assert found is not None
            return found

    def get_ticket(self, ticket_id: str) -> Ticket:
        with self.new_session() as db:
            found = db.get(Ticket, ticket_id)
            assert found is not None
            return found

    def charges(self, order_id: str) -> list[Charge]:
        with self.new_session() as db:
            return list(
                db.exec(
                    select(Charge).where(Charge.order_id == order_id).order_by(Charge.created_at)
                )
            )

    def events(self, *aggregate_ids: str) -> list[DomainEvent]:
        with self.new_session() as db:
            return list(
                db.exec(
                    select(DomainEvent)
                    .where(DomainEvent.aggregate_id.in_(aggregate_ids))
                    .order_by(DomainEvent.seq)
                )
            )

    def event_types(self, *aggregate_ids: str) -> list[str]:
        return [e.type for e in self.events(*aggregate_ids)]
