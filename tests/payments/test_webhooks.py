"""Stripe webhook events through the service: signatures, duplicates, declines."""

from __future__ import annotations

import threading
import time

import pytest
from payment_helpers import WEBHOOK_SECRET, LocalStripe, event_payload, sign
from sqlmodel import select

from tests.support import World
from ticketing_app.errors import PaymentDeclined, ValidationError
from ticketing_app.models import StripeEvent
from ticketing_app.services import payments


def deliver(world: World, payload: bytes, signature: str | None) -> str:
    with world.new_session() as db:
        return payments.handle_webhook(db, payload=payload, signature=signature, now=world.now)


def started(world: World):
    order = world.order()
    with world.new_session() as db:
        start = payments.start_payment(db, buyer_id=order.user_id, order_id=order.id, now=world.now)
    return order, start.payment_intent_id


def stored_event_ids(world: World) -> list[str]:
    with world.new_session() as db:
        return list(db.exec(select(StripeEvent.id)))


def test_succeeded_event_delivered_three_times_changes_state_once(
    world: World, localstripe: LocalStripe
) -> None:
    order, intent_id = started(world)
    localstripe.pay_as_browser(intent_id)
    payload = event_payload(localstripe.intent(intent_id))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def concurrent_delivery() -> None:
        with world.new_session() as db:
            barrier.wait()
            outcomes.append(
                payments.handle_webhook(db, payload=payload, signature=sign(payload), now=world.now)
            )

    threads = [threading.Thread(target=concurrent_delivery) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes.append(deliver(world, payload, sign(payload)))

    assert sorted(outcomes[:2]) in (["duplicate", "paid"], ["paid", "paid"])
    assert outcomes[2] == "duplicate"
    [charge] = world.charges(order.id)
    assert charge.status == "succeeded" and charge.stripe_id == intent_id
    assert world.get_order(order.id).status == "complete"
    assert world.event_types(order.id).count("OrderCompleted") == 1
    assert world.event_types(charge.id) == ["ChargeCreated"]
    assert len(stored_event_ids(world)) == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "t=1,v1=deadbeef",
        "garbage",
        "wrong-secret",
        "stale",
        "tampered",
    ],
)
def test_bad_or_stale_signature_is_400_and_changes_nothing(
    world: World, localstripe: LocalStripe, signature: str | None
) -> None:
    order, intent_id = started(world)
    localstripe.pay_as_browser(intent_id)
    payload = event_payload(localstripe.intent(intent_id))
    header = {
        "wrong-secret": sign(payload, secret="whsec_someone_else"),
        "stale": sign(payload, at=int(time.time()) - 600),
        "tampered": sign(payload.replace(b'"livemode": false', b'"livemode": true ')),
    }.get(signature or "", signature)
    with pytest.raises(ValidationError) as bad:
        deliver(world, payload, header)
    assert bad.value.status == 400
    assert world.get_order(order.id).status == "created"
    assert world.charges(order.id) == []
    assert stored_event_ids(world) == []
    assert WEBHOOK_SECRET not in bad.value.message


def test_payment_failed_event_after_the_api_saw_the_decline_counts_once(
    world: World, localstripe: LocalStripe
) -> None:
    order = world.order()
    with world.new_session() as db, pytest.raises(PaymentDeclined):
        payments.pay_order(
            db,
            buyer_id=order.user_id,
            order_id=order.id,
            payment_method="pm_card_chargeCustomerFail",
            now=world.now,
        )
    [failed] = world.charges(order.id)
    payload = event_payload(localstripe.intent(failed.stripe_id), "payment_intent.payment_failed")
    assert deliver(world, payload, sign(payload)) in ("declined", "ignored")
    assert world.get_order(order.id).failed_payment_attempts == 1
    assert len(world.charges(order.id)) == 1


def test_payment_failed_event_alone_records_the_decline(
    world: World, localstripe: LocalStripe
) -> None:
    order, intent_id = started(world)
    localstripe.pay_as_browser(intent_id, "pm_card_chargeCustomerFail")
    payload = event_payload(localstripe.intent(intent_id), "payment_intent.payment_failed")
    assert deliver(world, payload, sign(payload)) == "declined"
    assert deliver(world, payload, sign(payload)) == "duplicate"
    [failed] = world.charges(order.id)
    assert (failed.status, failed.failure_message) == ("failed", "Your card was declined.")
    assert world.get_order(order.id).failed_payment_attempts == 1


def test_events_we_do_not_handle_are_acknowledged(world: World) -> None:
    payload = event_payload({"id": "cus_123", "object": "customer"}, "customer.created")
    assert deliver(world, payload, sign(payload)) == "ignored"
    foreign = event_payload({"id": "pi_foreign", "object": "payment_intent"})
    assert deliver(world, foreign, sign(foreign)) == "ignored"  # unknown at Stripe


def test_signed_body_that_is_not_an_event_is_a_400(world: World) -> None:
    for payload in (b"[]", b'{"id": 1}', b'{"id": "evt_1", "type": "x"}', b"not json"):
        with pytest.raises(ValidationError, match="not a Stripe event"):
            deliver(world, payload, sign(payload))
    assert stored_event_ids(world) == []
