"""With fees on (SPEC §12), Stripe charges the all-in total — the one the ticket page shows
before "Buy" (fees.breakdown of the ticket's price) — and a refund returns that total; the
seller's ledger gets price − seller fee."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from payment_helpers import LocalStripe

from tests.support import World
from tests.support.money import balance, fees
from ticketing_app.services import fees as fee_rules
from ticketing_app.services import ledger, orders, payments
from ticketing_app.services import stripe_gateway as gateway
from ticketing_app.services.settlement import REFUNDED_MESSAGE


@pytest.fixture(autouse=True)
def fees_on() -> Iterator[None]:
    with fees("7.5", "5"):
        yield


def test_the_total_shown_is_what_stripe_charges(world: World, localstripe: LocalStripe) -> None:
    seller, buyer = world.user(), world.user()
    ticket = world.ticket(seller, price="19.99")
    shown = fee_rules.breakdown(ticket.price_cents)  # what TicketState shows before "Buy"
    assert (shown.fee_cents, shown.total_cents) == (150, 2149)
    order = world.reserve(buyer, ticket).order
    assert order.total_cents == shown.total_cents
    charge = world.pay(order)
    assert charge.amount_cents == 2149
    intent = localstripe.intent(world.get_order(order.id).payment_intent_id)
    assert (intent.amount, intent.status) == (2149, "succeeded")
    assert world.get_order(order.id).status == "complete"
    assert balance(world.url, seller.id) == ledger.Balance(pending=1899)  # 19.99 − 1.00


def test_a_refund_returns_the_total(world: World, localstripe: LocalStripe) -> None:
    order = world.order(price="19.99")
    with world.new_session() as db:
        started = payments.start_payment(
            db, buyer_id=order.user_id, order_id=order.id, now=world.now
        )
    assert started.amount_cents == 2149
    assert localstripe.pay_as_browser(started.payment_intent_id).status == "succeeded"
    later = order.expires_at + timedelta(seconds=1)
    with world.new_session() as db:
        orders.expire_order(db, order_id=order.id, now=later)
    with world.new_session() as db:
        result = payments.settle_payment(db, payment_intent_id=started.payment_intent_id, now=later)
    assert (result.outcome, result.message) == ("refunded", REFUNDED_MESSAGE)
    [refund] = localstripe.refunds_of(started.payment_intent_id)
    assert refund.amount == 2149 == world.get_order(order.id).total_cents
    [charge] = world.charges(order.id)
    assert (charge.amount_cents, charge.status) == (2149, "refunded")


def test_an_intent_for_the_price_alone_is_not_accepted(
    world: World, localstripe: LocalStripe
) -> None:
    """A PaymentIntent for the ticket's price without the fee does not pay the order."""
    order = world.order(price="19.99")
    intent = gateway.create_intent(
        amount_cents=order.price_cents,
        order_id=order.id,
        attempt=0,
        idempotency_key=f"test-underpaid-{order.id}",
    )
    assert localstripe.pay_as_browser(intent.id).status == "succeeded"
    with world.new_session() as db:
        result = payments.settle_payment(db, payment_intent_id=intent.id, now=world.now)
    assert result.outcome == "refunded"
    assert world.get_order(order.id).status != "complete"
    assert localstripe.refunds_of(intent.id)[0].amount == 1999
