"""POST /api/payments and POST /api/webhooks/stripe over real HTTP, on a real server process
(granian serving `build_api()`), with localstripe as Stripe and delivering its own webhooks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from payment_helpers import LocalStripe, event_payload, sign

from tests.db_helpers import migrate
from tests.support import ROOT, Server, spawn_server, wait_until
from tests.support.stripe import api_server_paying_through
from ticketing_app.db import session_factory
from ticketing_app.models import utcnow
from ticketing_app.services import payments

PG_DATABASE = "ticketing_payments_api"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    localstripe: LocalStripe,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"payments-api-{request.param}")
    with api_server_paying_through(localstripe, request.param, PG_DATABASE, directory) as (
        server,
        _db_url,
    ):
        yield server


@pytest.fixture
def client(server: Server) -> Iterator:
    opened: list[httpx.Client] = []

    def make(signed_in: bool = True) -> httpx.Client:
        http = httpx.Client(base_url=server.base_url, timeout=30)
        opened.append(http)
        if signed_in:
            email = f"pay-{uuid.uuid4().hex[:10]}@example.com"
            r = http.post("/api/users/signup", json={"email": email, "password": "correct horse"})
            assert r.status_code == 201, r.text
            http.headers["X-User-Id"] = r.json()["id"]  # for the test's own bookkeeping
        return http

    yield make
    for http in opened:
        http.close()


def new_order(client, price: float = 25.5) -> tuple[httpx.Client, dict]:
    seller, buyer = client(), client()
    ticket = seller.post("/api/tickets", json={"title": "Opera", "price": price})
    assert ticket.status_code == 201, ticket.text
    order = buyer.post("/api/orders", json={"ticketId": ticket.json()["id"]})
    assert order.status_code == 201, order.text
    return buyer, order.json()


def assert_error(response: httpx.Response, status: int, message: str | None = None) -> dict:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert set(error) == {"message", "field"}
    if message is not None:
        assert error["message"] == message
    return error


def test_paying_an_order_returns_the_charge_and_sells_the_ticket(
    client, localstripe: LocalStripe
) -> None:
    buyer, order = new_order(client, price=25.5)
    r = buyer.post("/api/payments", json={"token": "pm_card_visa", "orderId": order["id"]})
    assert r.status_code == 201, r.text
    charge = r.json()
    assert set(charge) == {"id", "orderId", "status", "amount", "stripeId", "stripeRefundId"}
    assert (charge["orderId"], charge["status"], charge["amount"]) == (
        order["id"],
        "succeeded",
        25.5,
    )
    assert charge["stripeRefundId"] is None
    intent = localstripe.intent(charge["stripeId"])
    assert (intent.amount, intent.currency, intent.status) == (2550, "usd", "succeeded")
    assert buyer.get(f"/api/orders/{order['id']}").json()["status"] == "complete"
    assert buyer.get(f"/api/tickets/{order['ticket']['id']}").json()["status"] == "sold"
    again = buyer.post("/api/payments", json={"token": "pm_card_visa", "orderId": order["id"]})
    assert_error(again, 400, "This order has already been paid")


def test_declined_card_is_402_with_stripes_message_then_retry_succeeds(client) -> None:
    buyer, order = new_order(client)
    body = {"token": "pm_card_chargeCustomerFail", "orderId": order["id"]}
    assert_error(buyer.post("/api/payments", json=body), 402, "Your card was declined.")
    assert buyer.get(f"/api/orders/{order['id']}").json()["status"] == "created"
    r = buyer.post("/api/payments", json={"token": "pm_card_visa", "orderId": order["id"]})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text


def test_who_may_pay_and_for_what(client, server: Server) -> None:
    buyer, order = new_order(client)
    body = {"token": "pm_card_visa", "orderId": order["id"]}
    assert_error(client(signed_in=False).post("/api/payments", json=body), 401)
    assert_error(client().post("/api/payments", json=body), 403)
    missing = {"token": "pm_card_visa", "orderId": str(uuid.uuid4())}
    assert_error(buyer.post("/api/payments", json=missing), 404, "Order not found")
    assert_error(buyer.post("/api/payments", json={"token": "pm_card_visa", "orderId": "x"}), 404)
    no_token = assert_error(buyer.post("/api/payments", json={"orderId": order["id"]}), 400)
    assert no_token["field"] == "token"
    no_order = assert_error(buyer.post("/api/payments", json={"token": "pm_card_visa"}), 400)
    assert no_order["field"] == "orderId"
    assert_error(buyer.post("/api/payments", content=b"not json"), 400)

    buyer2, cancelled = new_order(client)
    assert buyer2.delete(f"/api/orders/{cancelled['id']}").status_code == 204
    body2 = {"token": "pm_card_visa", "orderId": cancelled["id"]}
    assert_error(buyer2.post("/api/payments", json=body2), 400, "This order was cancelled")

    buyer3, past_due = new_order(client)
    engine = sa.create_engine(server.db_url)
    with engine.begin() as conn:  # the clock has moved past the reservation window
        conn.execute(
            sa.text("UPDATE orders SET expires_at = :t WHERE id = :id"),
            {"t": (utcnow() - timedelta(seconds=1)).replace(tzinfo=None), "id": past_due["id"]},
        )
    engine.dispose()
    body3 = {"token": "pm_card_visa", "orderId": past_due["id"]}
    assert_error(buyer3.post("/api/payments", json=body3), 400, "This order has expired")


def test_webhook_rejects_bad_signatures_over_http(client, localstripe: LocalStripe) -> None:
    http = client(signed_in=False)
    payload = event_payload({"id": "pi_x", "object": "payment_intent"})
    r = http.post(
        "/api/webhooks/stripe", content=payload, headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert_error(r, 400)
    r = http.post("/api/webhooks/stripe", content=payload)
    assert_error(r, 400, "Missing Stripe signature")
    ok = http.post(
        "/api/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
    )
    assert ok.status_code == 200 and ok.json() == {"received": True, "outcome": "ignored"}


def test_webhook_refuses_signatures_dated_outside_the_tolerance_both_ways(client) -> None:
    """A correctly signed event dated a day ahead used to get 200: the SDK only checks age."""
    http = client(signed_in=False)
    payload = event_payload({"id": "pi_x", "object": "payment_intent"})
    now = int(time.time())
    for at in (now + 86400, now + 360, now - 360):  # tolerance: 300 s
        r = http.post(
            "/api/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": sign(payload, at=at)},
        )
        assert_error(r, 400, "Invalid or expired Stripe signature")
    for at in (now + 60, now - 60):  # clocks a minute apart are fine
        r = http.post(
            "/api/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": sign(payload, at=at)},
        )
        assert r.status_code == 200 and r.json()["outcome"] in ("ignored", "duplicate"), r.text


def test_localstripe_webhook_settles_a_browser_payment(
    client, server: Server, localstripe: LocalStripe
) -> None:
    """The order page's flow: an intent for Stripe.js, the card confirmed in the browser, and
    Stripe's own webhook (not the browser) completing the order."""
    buyer, order = new_order(client)
    buyer_id = buyer.headers["X-User-Id"]
    with session_factory(server.db_url)() as db:
        started = payments.start_payment(db, buyer_id=buyer_id, order_id=order["id"], now=utcnow())
    hook = f"payments-{uuid.uuid4().hex[:8]}"
    localstripe.configure_webhook(
        hook, f"{server.base_url}/api/webhooks/stripe", ["payment_intent.succeeded"]
    )
    try:
        localstripe.pay_as_browser(started.payment_intent_id)
        wait_until(
            lambda: buyer.get(f"/api/orders/{order['id']}").json()["status"] == "complete",
            15,
            "the order complete",
            interval=0.2,
        )
    finally:  # stop sending this session's later events to this server
        localstripe.configure_webhook(hook, "http://127.0.0.1:9/", ["none"])
    assert buyer.get(f"/api/tickets/{order['ticket']['id']}").json()["status"] == "sold"


LIVE_KEYS = {"STRIPE_SECRET_KEY": "sk_live_" + "x" * 24, "STRIPE_PUBLISHABLE_KEY": "pk_live_x"}


@pytest.mark.parametrize("secret", [None, "whsec_local_ticketing", " "])
def test_live_keys_with_the_public_webhook_secret_refuse_to_start(tmp_path, secret) -> None:
    """The default secret is in this repository: with it, anyone could sign forged events."""
    db_url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate(db_url)
    env = {**LIVE_KEYS, "STRIPE_WEBHOOK_SECRET": secret} if secret else LIVE_KEYS
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
        mp.delenv("STRIPE_API_BASE", raising=False)
        with pytest.raises(RuntimeError, match="server exited early") as refused:
            spawn_server("api", {"DATABASE_URL": db_url, **env}, log_path=tmp_path / "server.log")
        # `reflex run` reads rxconfig.py first, which reads the settings: it stops there too.
        reflex_config = subprocess.run(
            [sys.executable, "-c", "import rxconfig"],
            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert "STRIPE_WEBHOOK_SECRET must be set" in str(refused.value)
    assert reflex_config.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET must be set" in reflex_config.stderr


def test_live_keys_with_their_own_webhook_secret_start(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate(db_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("STRIPE_API_BASE", raising=False)
        server = spawn_server(
            "api",
            {"DATABASE_URL": db_url, **LIVE_KEYS, "STRIPE_WEBHOOK_SECRET": "whsec_" + "s" * 32},
            log_path=tmp_path / "server.log",
        )
    with server:
        assert httpx.get(f"{server.base_url}/api/health").status_code == 200
