"""The services behind the order page's card form: a Stripe.js card id is confirmed on the
server, and the page can tell the buyer when a payment was refunded."""

from __future__ import annotations

from typing import Any

from payment_helpers import LocalStripe

from tests.support import World
from ticketing_app.services import orders, payments
from ticketing_app.services.settlement import REFUNDED_MESSAGE, refund_notice


def card_id(localstripe: LocalStripe, number: str) -> str:
    """What localstripe's Stripe.js `createToken(cardElement)` gives the page: `token.card.id`."""
    token: Any = localstripe.client.v1.tokens.create(
        params={"card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    assert token.card.id.startswith("card_")
    return token.card.id


def submit(world: World, order_id: str, buyer_id: str, method: str) -> payments.Settlement:
    with world.new_session() as db:
        result, _ = payments.submit_payment(
            db, buyer_id=buyer_id, order_id=order_id, payment_method=method, now=world.now
        )
    return result


def test_a_card_id_from_stripe_js_pays_and_a_0341_card_is_declined_without_raising(
    world: World, localstripe: LocalStripe
) -> None:
    order = world.order(price="25")
    declined = submit(world, order.id, order.user_id, card_id(localstripe, "4000000000000341"))
    assert declined.outcome == "declined" and declined.message == "Your card was declined."
    assert world.get_order(order.id).status == "created"  # the countdown keeps running

    paid = submit(world, order.id, order.user_id, card_id(localstripe, "4242424242424242"))
    assert paid.outcome == "paid" and paid.charge is not None
    assert paid.charge.amount_cents == 2500
    assert world.get_order(order.id).status == "complete"
    with world.new_session() as db:
        assert refund_notice(db, order_id=order.id) is None


def test_refund_notice_after_a_payment_lands_on_a_cancelled_order(
    world: World, localstripe: LocalStripe
) -> None:
    order = world.order(price="25")
    with world.new_session() as db:
        assert refund_notice(db, order_id=order.id) is None
        orders.cancel_order(db, user_id=order.user_id, order_id=order.id, now=world.now)
    intent = localstripe.client.v1.payment_intents.create(
        params={
            "amount": 2500,
            "currency": "usd",
            "payment_method_types": ["card"],
            "metadata": {"order_id": order.id, "attempt": "0"},
        }
    )
    assert localstripe.pay_as_browser(intent.id).status == "succeeded"
    with world.new_session() as db:
        assert payments.settle_payment(db, payment_intent_id=intent.id, now=world.now).outcome == (
            "refunded"
        )
    with world.new_session() as db:
        assert refund_notice(db, order_id=order.id) == REFUNDED_MESSAGE
    assert len(localstripe.refunds_of(intent.id)) == 1
