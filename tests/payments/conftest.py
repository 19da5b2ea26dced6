"""Payments run against a real localstripe (a stateful fake Stripe API) started per session.

The app's own Stripe module talks to it through the real `stripe` SDK; the tests check what
happened at "Stripe" through the same SDK. Users, tickets and orders are made with the real
services on both databases (`db_url`: SQLite, and PostgreSQL when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import stripe
from sqlmodel import Session, select

from ticketing_app.models import Charge, DomainEvent, Order, Ticket, User
from ticketing_app.services import auth, orders, tickets
from ticketing_app.settings import reset_settings

WEBHOOK_SECRET = "whsec_payments_tests"
SECRET_KEY = "sk_test_payments_tests"

# localstripe pickles its whole store to /tmp after every write (slow, and shared by every
# localstripe on the machine); the tests need none of that, so the launcher turns it off.
LAUNCHER = """
import sys
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import start
sys.argv = ["localstripe", "--port", sys.argv[1], "--from-scratch"]
start()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalStripe:
    base_url: str
    proc: subprocess.Popen[bytes]

    @property
    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(SECRET_KEY, base_addresses={"api": self.base_url})

    def configure_webhook(self, hook_id: str, url: str, events: list[str] | None = None) -> None:
        body: dict[str, Any] = {"url": url, "secret": WEBHOOK_SECRET}
        if events is not None:
            body["events"] = events
        r = httpx.post(f"{self.base_url}/_config/webhooks/{hook_id}", json=body, timeout=10)
        r.raise_for_status()

    def refunds_of(self, intent_id: str) -> list[Any]:
        return list(self.client.v1.refunds.list(params={"payment_intent": intent_id}).data)

    def intent(self, intent_id: str) -> Any:
        return self.client.v1.payment_intents.retrieve(intent_id)

    def pay_as_browser(self, intent_id: str, payment_method: str = "pm_card_visa") -> Any:
        """What Stripe.js `confirmCardPayment` does for the buyer (attach the card, confirm)."""
        intents = self.client.v1.payment_intents
        intents.update(intent_id, params={"payment_method": payment_method})
        try:
            return intents.confirm(intent_id)
        except stripe.CardError:
            return intents.retrieve(intent_id)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    port = free_port()
    log = (tmp_path_factory.mktemp("localstripe") / "localstripe.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/js.stripe.com/v3/", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.2)
    saved = {
        k: os.environ.get(k)
        for k in ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
    }
    os.environ.update(
        STRIPE_API_BASE=base, STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET
    )
    reset_settings()
    yield LocalStripe(base_url=base, proc=proc)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_settings()
    proc.terminate()
    proc.wait(timeout=10)


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
                db, buyer_id=buyer.id, ticket_id=ticket.id, now=self.now
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


@pytest.fixture
def world(localstripe: LocalStripe, new_session: Callable[[], Session], now: datetime) -> World:
    return World(new_session=new_session, now=now)
