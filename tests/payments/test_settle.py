"""Paying an order through the services, against localstripe: success, declines, refusals."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from payment_helpers import LocalStripe

from tests.support import World
from ticketing_app.errors import (
    Forbidden,
    NotFound,
    PaymentDeclined,
    RuleViolation,
    ValidationError,
)
from ticketing_app.services import orders, payments

DECLINED = "pm_card_chargeCustomerFail"


def test_success_completes_order_sells_ticket_and_charges_the_snapshot_price(
    world: World, localstripe: LocalStripe
) -> None:
    order = world.order(price="19.99")
    charge = world.pay(order)

    assert (charge.status, charge.amount_cents, charge.order_id) == ("succeeded", 1999, order.id)
    paid = world.get_order(order.id)
    assert paid.status == "complete" and paid.payment_intent_id == charge.stripe_id
    ticket = world.get_ticket(order.ticket_id)
    assert (ticket.status, ticket.order_id) == ("sold", None)
    intent = localstripe.intent(charge.stripe_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 1999, "usd")
    assert intent.metadata["order_id"] == order.id
    assert world.event_types(charge.id, order.id, ticket.id)[-3:] == [
        "ChargeCreated",
        "OrderCompleted",
        "TicketUpdated",
    ]
    versions = {e.type: e.aggregate_version for e in world.events(charge.id, order.id)}
    assert versions["ChargeCreated"] == 1 and versions["OrderCompleted"] == 2


def test_decline_records_a_failed_charge_and_a_retry_can_succeed(
    world: World, localstripe: LocalStripe
) -> None:
    order = world.order()
    with pytest.raises(PaymentDeclined) as declined:
        world.pay(order, DECLINED)
    assert declined.value.status == 402
    assert declined.value.message == "Your card was declined."

    [failed] = world.charges(order.id)
    assert (failed.status, failed.failure_message) == ("failed", "Your card was declined.")
    after = world.get_order(order.id)
    assert (after.status, after.failed_payment_attempts) == ("created", 1)
    assert world.get_ticket(order.ticket_id).status == "reserved"
    assert localstripe.intent(failed.stripe_id).status == "canceled"  # not chargeable later

    charge = world.pay(order)
    assert charge.status == "succeeded" and charge.stripe_id != failed.stripe_id
    assert world.get_order(order.id).status == "complete"
    assert world.get_ticket(order.ticket_id).status == "sold"


def test_third_decline_cancels_the_order_and_releases_the_ticket(world: World) -> None:
    order = world.order()
    for attempt in (1, 2):
        with pytest.raises(PaymentDeclined):
            world.pay(order, DECLINED)
        assert world.get_order(order.id).failed_payment_attempts == attempt
    with pytest.raises(PaymentDeclined) as third:
        world.pay(order, DECLINED)
    assert "cancelled after 3 declined payments" in third.value.message

    ended = world.get_order(order.id)
    assert (ended.status, ended.failed_payment_attempts) == ("cancelled", 3)
    assert world.get_ticket(order.ticket_id).status == "available"
    assert [c.status for c in world.charges(order.id)] == ["failed"] * 3
    assert "OrderCancelled" in world.event_types(order.id)
    with pytest.raises(RuleViolation, match="This order was cancelled"):
        world.pay(order)


def test_only_the_buyer_pays_and_only_an_open_order(world: World) -> None:
    order = world.order()
    stranger = world.user()
    with pytest.raises(Forbidden):
        world.pay(order, buyer=stranger)
    with pytest.raises(NotFound):
        world.pay("6f1b1c2e-0000-4000-8000-000000000000", buyer=order.user_id)
    with pytest.raises(NotFound):
        world.pay("not-a-uuid", buyer=order.user_id)
    past_due = world.now + timedelta(seconds=901)
    with pytest.raises(RuleViolation, match="This order has expired"):
        world.pay(order, at=past_due)
    assert world.charges(order.id) == []

    cancelled = world.order()
    with world.new_session() as db:
        orders.cancel_order(db, user_id=cancelled.user_id, order_id=cancelled.id, now=world.now)
    with pytest.raises(RuleViolation, match="This order was cancelled"):
        world.pay(cancelled)

    world.pay(order)
    with pytest.raises(RuleViolation, match="This order has already been paid"):
        world.pay(order)
    assert len(world.charges(order.id)) == 1


def test_bad_card_token_is_a_400_and_not_a_decline(world: World) -> None:
    order = world.order()
    for token in (None, "", "   ", "pm card; drop"):
        with pytest.raises(ValidationError) as bad:
            world.pay(order, token)
        assert bad.value.field == "token"
    with pytest.raises(ValidationError) as unknown:
        world.pay(order, "pm_does_not_exist")
    assert unknown.value.field == "token" and unknown.value.status == 400
    after = world.get_order(order.id)
    assert (after.status, after.failed_payment_attempts) == ("created", 0)
    assert world.charges(order.id) == []
    assert world.pay(order).status == "succeeded"


def test_start_payment_reuses_one_intent_until_a_decline(world: World, localstripe) -> None:
    order = world.order(price=42)
    with world.new_session() as db:
        first = payments.start_payment(db, buyer_id=order.user_id, order_id=order.id, now=world.now)
    with world.new_session() as db:
        again = payments.start_payment(db, buyer_id=order.user_id, order_id=order.id, now=world.now)
    assert again.payment_intent_id == first.payment_intent_id
    assert first.client_secret.startswith(first.payment_intent_id)
    assert first.amount_cents == 4200
    assert world.get_order(order.id).payment_intent_id == first.payment_intent_id

    localstripe.pay_as_browser(first.payment_intent_id, DECLINED)
    with world.new_session() as db:
        result = payments.confirm_from_browser(
            db,
            buyer_id=order.user_id,
            order_id=order.id,
            payment_intent_id=first.payment_intent_id,
            now=world.now,
        )
    assert (result.outcome, result.message) == ("declined", "Your card was declined.")
    with world.new_session() as db:
        second = payments.start_payment(
            db, buyer_id=order.user_id, order_id=order.id, now=world.now
        )
    assert second.payment_intent_id != first.payment_intent_id
    localstripe.pay_as_browser(second.payment_intent_id)
    with world.new_session() as db:
        result = payments.confirm_from_browser(
            db,
            buyer_id=order.user_id,
            order_id=order.id,
            payment_intent_id=second.payment_intent_id,
            now=world.now,
        )
    assert result.outcome == "paid"
    assert world.get_order(order.id).status == "complete"


def test_browser_confirmation_is_checked_at_stripe(world: World, localstripe) -> None:
    order, other = world.order(), world.order()
    with world.new_session() as db:
        started = payments.start_payment(
            db, buyer_id=order.user_id, order_id=order.id, now=world.now
        )
    with world.new_session() as db:  # the browser says "paid" but nothing was charged
        result = payments.confirm_from_browser(
            db,
            buyer_id=order.user_id,
            order_id=order.id,
            payment_intent_id=started.payment_intent_id,
            now=world.now,
        )
    assert result.outcome == "pending"
    assert world.get_order(order.id).status == "created"
    with world.new_session() as db, pytest.raises(NotFound):  # an intent of another order
        payments.confirm_from_browser(
            db,
            buyer_id=other.user_id,
            order_id=other.id,
            payment_intent_id=started.payment_intent_id,
            now=world.now,
        )
    with world.new_session() as db, pytest.raises(Forbidden):
        payments.confirm_from_browser(
            db,
            buyer_id=other.user_id,
            order_id=order.id,
            payment_intent_id=started.payment_intent_id,
            now=world.now,
        )


def test_card_needing_3d_secure_is_finished_in_the_browser(
    world: World, localstripe: LocalStripe
) -> None:
    """submit_payment leaves a 3-D Secure card `requires_action`; the page completes it with
    Stripe.js and the server settles from Stripe's answer. The API refuses it with a 402."""
    card = {"number": "4000002500003155", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    pm = localstripe.client.v1.payment_methods.create(params={"type": "card", "card": card})
    order = world.order()
    with world.new_session() as db:
        result, started = payments.submit_payment(
            db, buyer_id=order.user_id, order_id=order.id, payment_method=pm.id, now=world.now
        )
    assert (result.outcome, result.intent_status) == ("pending", "requires_action")
    with pytest.raises(PaymentDeclined, match="authentication"):
        payments.charge_or_raise(result)

    # What localstripe's Stripe.js `confirmCardPayment(client_secret)` does after the 3DS modal.
    r = httpx.post(
        f"{localstripe.base_url}/v1/payment_intents/{started.payment_intent_id}/_authenticate",
        params={"success": "true"},
        json={"key": "pk_test_local", "client_secret": started.client_secret},
    )
    assert r.status_code == 200, r.text
    with world.new_session() as db:
        done = payments.confirm_from_browser(
            db,
            buyer_id=order.user_id,
            order_id=order.id,
            payment_intent_id=started.payment_intent_id,
            now=world.now,
        )
    assert done.outcome == "paid"
    assert world.get_order(order.id).status == "complete"


def test_stripe_js_comes_from_localstripe_when_it_stands_in(localstripe: LocalStripe) -> None:
    assert payments.stripe_js_url() == f"{localstripe.base_url}/js.stripe.com/v3/"
    assert httpx.get(payments.stripe_js_url()).status_code == 200


def test_an_intent_cancelled_at_stripe_is_replaced(world: World, localstripe: LocalStripe) -> None:
    order = world.order()
    with world.new_session() as db:
        first = payments.start_payment(db, buyer_id=order.user_id, order_id=order.id, now=world.now)
    localstripe.client.v1.payment_intents.cancel(first.payment_intent_id)  # e.g. in the dashboard
    with world.new_session() as db:
        second = payments.start_payment(
            db, buyer_id=order.user_id, order_id=order.id, now=world.now
        )
    assert second.payment_intent_id != first.payment_intent_id
    assert localstripe.intent(second.payment_intent_id).status == "requires_payment_method"
    assert world.get_order(order.id).payment_intent_id == second.payment_intent_id
    assert world.pay(order).stripe_id == second.payment_intent_id
