"""No database connection (so no transaction, no SQLite write lock) is held while Stripe is
called: every Stripe call made by the app is checked against the engine's pool."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from payment_helpers import LocalStripe, event_payload, sign

from tests.support import World
from ticketing_app.db import get_engine
from ticketing_app.errors import PaymentDeclined
from ticketing_app.models import Order
from ticketing_app.services import orders, payments, stripe_gateway


class Guarded:
    """Wraps the StripeClient; each API call first checks that no connection is checked out."""

    def __init__(self, target: Any, check: Any) -> None:
        self._target, self._check = target, check

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if callable(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                self._check(name)
                return attr(*args, **kwargs)

            return call
        return Guarded(attr, self._check)


def test_stripe_is_never_called_inside_a_transaction(
    world: World, localstripe: LocalStripe, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine(db_url)
    calls: list[str] = []

    def check(name: str) -> None:
        calls.append(name)
        assert engine.pool.checkedout() == 0, f"a DB connection is held during Stripe {name}"

    real_client = stripe_gateway.client
    monkeypatch.setattr(stripe_gateway, "client", lambda: Guarded(real_client(), check))

    paid = world.order()
    with world.new_session() as db:
        payments.pay_order(
            db,
            buyer_id=paid.user_id,
            order_id=paid.id,
            payment_method="pm_card_visa",
            now=world.now,
        )
    declined = world.order()
    with world.new_session() as db, pytest.raises(PaymentDeclined):
        payments.pay_order(
            db,
            buyer_id=declined.user_id,
            order_id=declined.id,
            payment_method="pm_card_chargeCustomerFail",
            now=world.now,
        )
    late = world.order()
    with world.new_session() as db:
        started = payments.start_payment(db, buyer_id=late.user_id, order_id=late.id, now=world.now)
    localstripe.pay_as_browser(started.payment_intent_id)
    with world.new_session() as db:
        orders.expire_order(db, order_id=late.id, now=late.expires_at + timedelta(seconds=1))
    payload = event_payload(localstripe.intent(started.payment_intent_id))
    with world.new_session() as db:
        outcome = payments.handle_webhook(
            db, payload=payload, signature=sign(payload), now=late.expires_at
        )
    assert outcome == "refunded"
    assert payments.cancel_open_intent(late.id, url=db_url) == "succeeded"
    assert {"create", "update", "confirm", "retrieve", "cancel"} <= set(calls)
    # The guard itself works: a Stripe call inside a transaction is caught.
    with world.new_session() as db, db.begin(), pytest.raises(AssertionError, match="held"):
        db.get(Order, late.id)
        stripe_gateway.retrieve_intent(started.payment_intent_id)
