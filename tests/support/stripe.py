"""A real localstripe (stateful fake Stripe API + Stripe.js stand-in), as `LocalStripe`.

The services talk to it through the real `stripe` SDK (tests/payments); an app under test gets
`env()` so its pages load localstripe's Stripe.js (tests/e2e); the load test pays through it.
    ls = start_localstripe(log_dir); ...; ls.stop()
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import stripe

from tests.support.servers import Server, spawn_server
from ticketing_app.settings import reset_settings

WEBHOOK_SECRET = "whsec_payments_tests"
SECRET_KEY = "sk_test_payments_tests"


class LocalStripe:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.base_url = server.url

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

    def env(self) -> dict[str, str]:
        """Settings that point an app at this localstripe."""
        return {
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def stop(self) -> None:
        self.server.remove()


def start_localstripe(log_dir: Path | None = None) -> LocalStripe:
    """localstripe from scratch; returns once it serves its Stripe.js."""
    log_path = log_dir / "localstripe.log" if log_dir is not None else None
    return LocalStripe(spawn_server("localstripe", log_path=log_path))


@contextmanager
def localstripe_in_environment(log_dir: Path | None = None) -> Iterator[LocalStripe]:
    """A localstripe whose settings this test process uses too (its own gateway calls), put
    back as they were when the block ends, and the server stopped."""
    server = start_localstripe(log_dir)
    settings = server.env()
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    reset_settings()
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()
        server.stop()


@contextmanager
def api_server_paying_through(
    stripe_server: LocalStripe, database: str, name: str, directory: Path, **env: str
) -> Iterator[tuple[Server, str]]:
    """An API process (`build_api()` under granian) paying through `stripe_server`, on a
    fresh migrated database: `database` "sqlite" (a file in `directory`) or "postgresql"
    (database `name` on TEST_DATABASE_URL's server; skipped without it). Yields (server, its
    database URL); the process is removed and the engines disposed afterwards."""
    import pytest

    from tests.db_helpers import fresh_postgres, migrate
    from ticketing_app.db import dispose_engines

    if database == "sqlite":
        db_url = f"sqlite:///{directory / 'api.db'}"
        migrate(db_url)
    else:
        if not os.environ.get("TEST_DATABASE_URL"):
            pytest.skip("TEST_DATABASE_URL not set (CI sets it)")
        db_url = fresh_postgres(name)
    srv = spawn_server(
        "api",
        {"DATABASE_URL": db_url, **stripe_server.env(), **env},
        log_path=directory / "server.log",
    )
    try:
        yield srv, db_url
    finally:
        srv.remove()
        dispose_engines()
