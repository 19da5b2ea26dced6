"""The race SPEC rule 9 is about: a card succeeds at Stripe while the reservation ends."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from payment_helpers import LocalStripe, event_payload, sign
from sqlmodel import Session

from tests.support import World, wait_until
from ticketing_app.db import session_factory
from ticketing_app.errors import DomainError, ServiceUnavailable
from ticketing_app.models import Order
from ticketing_app.services import orders, payment_upkeep, payments, stripe_gateway
from ticketing_app.services.settlement import (
    REFUND_LEASE,
    REFUND_PENDING_MESSAGE,
    REFUNDED_MESSAGE,
)


def started_and_paid_at_stripe(world: World, localstripe: LocalStripe) -> tuple[Order, str]:
    order = world.order()
    with world.new_session() as db:
        started = payments.start_payment(
            db, buyer_id=order.user_id, order_id=order.id, now=world.now
        )
    assert localstripe.pay_as_browser(started.payment_intent_id).status == "succeeded"
    return order, started.payment_intent_id


def assert_refunded_once(
    world: World, localstripe: LocalStripe, order: Order, intent_id: str
) -> None:
    assert world.get_order(order.id).status == "expired"
    ticket = world.get_ticket(order.ticket_id)
    assert (ticket.status, ticket.order_id) == ("available", None)
    [charge] = world.charges(order.id)
    refunds = localstripe.refunds_of(intent_id)
    assert len(refunds) == 1 and refunds[0].amount == order.price_cents
    assert (charge.status, charge.stripe_refund_id) == ("refunded", refunds[0].id)
    assert world.event_types(charge.id) == ["ChargeCreated", "ChargeRefunded"]


def test_payment_succeeding_after_expiry_is_refunded_exactly_once(
    world: World, localstripe: LocalStripe
) -> None:
    order, intent_id = started_and_paid_at_stripe(world, localstripe)
    later = order.expires_at + timedelta(seconds=1)
    with world.new_session() as db:
        assert orders.expire_order(db, order_id=order.id, now=later)
    for _ in range(3):  # API, webhook and page all settle the same intent
        with world.new_session() as db:
            result = payments.settle_payment(db, payment_intent_id=intent_id, now=later)
        assert (result.outcome, result.message) == ("refunded", REFUNDED_MESSAGE)
    assert_refunded_once(world, localstripe, order, intent_id)
    assert "TicketUpdated" in world.event_types(order.ticket_id)
    assert world.get_ticket(order.ticket_id).status != "sold"


def test_settling_a_past_due_order_expires_it_first_then_refunds(
    world: World, localstripe: LocalStripe
) -> None:
    order, intent_id = started_and_paid_at_stripe(world, localstripe)
    later = order.expires_at  # due now; no timer has expired it yet
    with world.new_session() as db:
        result = payments.settle_payment(db, payment_intent_id=intent_id, now=later)
    assert result.outcome == "refunded"
    assert_refunded_once(world, localstripe, order, intent_id)
    assert "OrderExpired" in world.event_types(order.id)


def test_cancelling_an_order_cancels_its_open_intent(
    world: World, localstripe: LocalStripe, db_url: str
) -> None:
    unsubscribe = payments.install_intent_canceller(db_url)
    try:
        order = world.order()
        with world.new_session() as db:
            started = payments.start_payment(
                db, buyer_id=order.user_id, order_id=order.id, now=world.now
            )
        with world.new_session() as db:
            orders.cancel_order(db, user_id=order.user_id, order_id=order.id, now=world.now)
        payments.wait_for_cleanups()
    finally:
        unsubscribe()
    assert localstripe.intent(started.payment_intent_id).status == "canceled"
    assert world.charges(order.id) == []


def test_clean_up_after_expiry_refunds_a_payment_that_slipped_through(
    world: World, localstripe: LocalStripe, db_url: str
) -> None:
    """No webhook ever arrives: the expiry's clean-up finds the intent succeeded and refunds."""
    order, intent_id = started_and_paid_at_stripe(world, localstripe)
    with world.new_session() as db:
        orders.expire_order(db, order_id=order.id, now=order.expires_at)
    assert payments.cancel_open_intent(order.id, url=db_url) == "succeeded"
    assert_refunded_once(world, localstripe, order, intent_id)


def test_concurrent_settles_of_one_intent_record_one_charge(
    world: World, localstripe: LocalStripe
) -> None:
    order, intent_id = started_and_paid_at_stripe(world, localstripe)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def settle() -> None:
        with world.new_session() as db:
            barrier.wait()
            outcomes.append(
                payments.settle_payment(db, payment_intent_id=intent_id, now=world.now).outcome
            )

    threads = [threading.Thread(target=settle) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["paid"] * 6
    [charge] = world.charges(order.id)
    assert charge.status == "succeeded"
    assert world.event_types(charge.id) == ["ChargeCreated"]
    assert world.event_types(order.id).count("OrderCompleted") == 1
    assert world.get_ticket(order.ticket_id).status == "sold"


def race_webhook_against_expiry(
    factory: Callable[[], Session], order: Order, payload: bytes, jitter: float
) -> None:
    """Two threads released together: the webhook 1 ms before the deadline, expiry at it."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def webhook() -> None:
        try:
            with factory() as db:
                barrier.wait()
                payments.handle_webhook(
                    db,
                    payload=payload,
                    signature=sign(payload),
                    now=order.expires_at - timedelta(milliseconds=1),
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    def expire() -> None:
        try:
            with factory() as db:
                barrier.wait()
                threading.Event().wait(jitter)
                orders.expire_order(db, order_id=order.id, now=order.expires_at)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=webhook), threading.Thread(target=expire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.slow
def test_webhook_against_expiry_always_ends_paid_or_refunded(
    world: World, localstripe: LocalStripe, db_url: str
) -> None:
    """50 rounds; each must end either paid (sold, no refund) or expired with one refund.

    The expiry's head start adapts (longer after it won, shorter after it lost), so the
    rounds gather around the moment both commit together, and both outcomes occur.
    """
    factory = session_factory(db_url)
    seen = {"paid": 0, "refunded": 0}
    noise = random.Random(7)
    delay = 0.01
    for _ in range(50):
        order, intent_id = started_and_paid_at_stripe(world, localstripe)
        payload = event_payload(localstripe.intent(intent_id))
        race_webhook_against_expiry(factory, order, payload, delay + noise.uniform(0, 0.003))
        final = world.get_order(order.id)
        ticket = world.get_ticket(order.ticket_id)
        [charge] = world.charges(order.id)
        refunds = localstripe.refunds_of(intent_id)
        if final.status == "complete":
            assert (ticket.status, charge.status, len(refunds)) == ("sold", "succeeded", 0)
            seen["paid"] += 1
            delay = max(0.0, delay - 0.005)
        else:
            assert final.status == "expired", final.status
            assert (ticket.status, charge.status, len(refunds)) == ("available", "refunded", 1)
            assert charge.stripe_refund_id == refunds[0].id
            seen["refunded"] += 1
            delay += 0.005
    assert sum(seen.values()) == 50
    assert seen["paid"] and seen["refunded"], seen  # both sides of the race were exercised
    print(f"webhook vs expiry on {db_url.split(':')[0]}: {seen}")


def test_refund_deferred_while_stripe_is_down_is_retried_once_by_the_sweep(
    world: World, localstripe: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stripe refuses the refund (outage): the buyer is told it is coming, the webhook asks
    Stripe to redeliver (503), and the sweep refunds exactly once after the claim's lease."""
    order, intent_id = started_and_paid_at_stripe(world, localstripe)
    later = order.expires_at + timedelta(seconds=1)

    def stripe_down(*args: object, **kwargs: object) -> str:
        raise stripe_gateway.GatewayUnavailable("The payment service is unavailable.")

    monkeypatch.setattr(stripe_gateway, "refund_intent", stripe_down)
    with world.new_session() as db:
        result = payments.settle_payment(db, payment_intent_id=intent_id, now=later)
    assert (result.outcome, result.message) == ("refund_pending", REFUND_PENDING_MESSAGE)
    payload = event_payload(localstripe.intent(intent_id))
    with world.new_session() as db, pytest.raises(ServiceUnavailable):
        payments.handle_webhook(db, payload=payload, signature=sign(payload), now=later)
    monkeypatch.undo()

    with world.new_session() as db:  # the claim is fresh: nobody else refunds yet
        assert payments.retry_pending_refunds(db, now=later) == 0
    assert localstripe.refunds_of(intent_id) == []
    after_lease = later + REFUND_LEASE
    with world.new_session() as db:
        assert payments.retry_pending_refunds(db, now=after_lease) == 1
    with world.new_session() as db:
        assert payments.retry_pending_refunds(db, now=after_lease) == 0
    assert_refunded_once(world, localstripe, order, intent_id)
    with world.new_session() as db:  # Stripe's redelivery is now acknowledged
        assert payments.handle_webhook(db, payload=payload, signature=sign(payload), now=later) == (
            "refunded"
        )


def test_a_second_successful_intent_for_a_paid_order_is_refunded(
    world: World, localstripe: LocalStripe
) -> None:
    """Two card payments for one order (e.g. two tabs): one sale, the other is refunded."""
    order, first = started_and_paid_at_stripe(world, localstripe)
    second = stripe_gateway.create_intent(
        amount_cents=order.price_cents,
        order_id=order.id,
        attempt=0,
        idempotency_key=f"second-tab-{order.id}",
    )
    localstripe.pay_as_browser(second.id)
    with world.new_session() as db:
        assert payments.settle_payment(db, payment_intent_id=first, now=world.now).outcome == "paid"
    with world.new_session() as db:
        again = payments.settle_payment(db, payment_intent_id=second.id, now=world.now)
    assert again.outcome == "refunded"
    assert world.get_order(order.id).status == "complete"
    assert world.get_ticket(order.ticket_id).status == "sold"
    statuses = sorted((c.stripe_id, c.status) for c in world.charges(order.id))
    assert statuses == sorted([(first, "succeeded"), (second.id, "refunded")])
    assert localstripe.refunds_of(first) == [] and len(localstripe.refunds_of(second.id)) == 1


def test_concurrent_api_payments_for_one_order_charge_once(
    world: World, localstripe: LocalStripe
) -> None:
    order = world.order()
    barrier = threading.Barrier(3)
    results: list[object] = []

    def pay() -> None:
        with world.new_session() as db:
            barrier.wait()
            try:
                results.append(
                    payments.pay_order(
                        db,
                        buyer_id=order.user_id,
                        order_id=order.id,
                        payment_method="pm_card_visa",
                        now=world.now,
                    ).status
                )
            except DomainError as exc:
                results.append(exc.message)

    threads = [threading.Thread(target=pay) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "succeeded" in results, results
    assert world.get_order(order.id).status == "complete"
    settled = [c for c in world.charges(order.id) if c.status in ("succeeded", "refunded")]
    succeeded = [c for c in settled if c.status == "succeeded"]
    assert len(succeeded) == 1
    for charge in settled:  # a second intent that slipped through is refunded, never kept
        if charge.status == "refunded":
            assert len(localstripe.refunds_of(charge.stripe_id)) == 1


def test_the_app_upkeep_sweeps_a_deferred_refund_by_itself(
    world: World, localstripe: LocalStripe, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`install_payment_upkeep` (what the app runs): after a refund was deferred, its
    background sweep refunds it once the claim's lease has passed, with nobody calling."""
    order, intent_id = started_and_paid_at_stripe(world, localstripe)

    def stripe_down(*args: object, **kwargs: object) -> str:
        raise stripe_gateway.GatewayUnavailable("The payment service is unavailable.")

    monkeypatch.setattr(stripe_gateway, "refund_intent", stripe_down)
    with world.new_session() as db:  # world.now is well before the wall clock: lease over
        outcome = payments.settle_payment(
            db, payment_intent_id=intent_id, now=order.expires_at
        ).outcome
    assert outcome == "refund_pending"
    monkeypatch.undo()
    monkeypatch.setattr(payment_upkeep, "start_refund_sweeper", fast_sweeper)
    uninstall = payments.install_payment_upkeep(db_url)
    try:
        world.order()  # any committed event starts the sweep in this process
        wait_until(lambda: world.charges(order.id)[0].status == "refunded", 20, "refunded")
    finally:
        uninstall()
        payments.wait_for_cleanups()
    assert_refunded_once(world, localstripe, order, intent_id)


REAL_SWEEPER = payment_upkeep.start_refund_sweeper


def fast_sweeper(url: str | None = None, interval: float = 60.0):
    return REAL_SWEEPER(url, interval=0.1)


def test_paying_while_the_buyer_cancels_answers_the_cancel_not_503(
    world: World, localstripe: LocalStripe, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel lands between the payment's start and the card's confirmation (the intent
    is cancelled at Stripe): the buyer hears "This order was cancelled", never "still being
    processed" for an order that will never settle."""
    unsubscribe = payments.install_intent_canceller(db_url)
    order = world.order()
    confirm = stripe_gateway.confirm_intent

    def cancel_then_confirm(intent_id: str, **kwargs: object) -> object:
        with world.new_session() as db:
            orders.cancel_order(db, user_id=order.user_id, order_id=order.id, now=world.now)
        payments.wait_for_cleanups()
        assert localstripe.intent(intent_id).status == "canceled"
        return confirm(intent_id, **kwargs)

    monkeypatch.setattr(stripe_gateway, "confirm_intent", cancel_then_confirm)
    try:
        with world.new_session() as db, pytest.raises(DomainError) as refused:
            payments.pay_order(
                db,
                buyer_id=order.user_id,
                order_id=order.id,
                payment_method="pm_card_visa",
                now=world.now,
            )
    finally:
        unsubscribe()
    assert (refused.value.status, refused.value.message) == (400, "This order was cancelled")
    assert world.get_order(order.id).status == "cancelled"
    assert world.charges(order.id) == []
