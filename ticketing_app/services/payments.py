"""Card payments for an order: start a PaymentIntent, pay server-side, settle, webhooks, clean-up.

Who calls what:
- the order page: `start_payment` (client secret for Stripe.js `confirmCardPayment`), then
  `confirm_from_browser` once Stripe.js answers — it re-reads the intent from Stripe;
- `POST /api/payments`: `pay_order` (confirms server-side with a PaymentMethod id);
- `POST /api/webhooks/stripe`: `handle_webhook`;
- after an order expires or is cancelled: `cancel_open_intent`, and the refund retry sweep
  `retry_pending_refunds` (both in `payment_upkeep.py`, re-exported here).
All of them end in `settlement.settle_payment`, the one idempotent settle. No DB transaction is
ever open while Stripe is called.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ticketing_app.errors import (
    NotFound,
    PaymentDeclined,
    RuleViolation,
    ServiceUnavailable,
    ValidationError,
)
from ticketing_app.models import Charge, Order, OrderStatus, StripeEvent
from ticketing_app.services import stripe_gateway as gateway
from ticketing_app.services.orders import own_order
from ticketing_app.services.payment_upkeep import (
    cancel_open_intent,
    install_intent_canceller,
    install_payment_upkeep,
    retry_pending_refunds,
    wait_for_cleanups,
)
from ticketing_app.services.settlement import (
    REFUNDED_MESSAGE,
    Settlement,
    settle_intent,
    settle_payment,
)
from ticketing_app.settings import get_settings

__all__ = [
    "REFUNDED_MESSAGE",
    "PaymentStart",
    "Settlement",
    "cancel_open_intent",
    "confirm_from_browser",
    "handle_webhook",
    "install_intent_canceller",
    "install_payment_upkeep",
    "pay_order",
    "retry_pending_refunds",
    "settle_payment",
    "start_payment",
    "stripe_js_url",
    "submit_payment",
    "wait_for_cleanups",
]

log = logging.getLogger(__name__)

PAYMENT_NOT_FOUND = "Payment not found"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_]{3,255}$")
WEBHOOK_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
    }
)


@dataclass(frozen=True)
class PaymentStart:
    """What the order page hands to Stripe.js."""

    order_id: str
    payment_intent_id: str
    client_secret: str
    amount_cents: int
    publishable_key: str


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Gateway failures become the SPEC's error statuses."""
    try:
        yield
    except gateway.IntentNotFound:
        raise NotFound(PAYMENT_NOT_FOUND) from None
    except gateway.GatewayError as exc:
        raise ServiceUnavailable(exc.message) from None


def _require_payable(order: Order, now: datetime) -> None:
    """Rule 7: only an order that is `created` and not past due takes a payment."""
    if order.status == OrderStatus.COMPLETE:
        raise RuleViolation("This order has already been paid")
    if order.status == OrderStatus.CANCELLED:
        raise RuleViolation("This order was cancelled")
    if order.status == OrderStatus.EXPIRED or order.expires_at <= now:
        raise RuleViolation("This order has expired")


def _cancel_quietly(intent_id: str) -> None:
    try:
        gateway.cancel_intent(intent_id)
    except gateway.GatewayError as exc:
        log.info("could not cancel PaymentIntent %s: %s", intent_id, exc)


def start_payment(db: Session, *, buyer_id: str, order_id: Any, now: datetime) -> PaymentStart:
    """Create, or re-use, the order's open PaymentIntent for its snapshot total (price +
    buyer fee, SPEC §12).

    One intent per order and attempt (`failed_payment_attempts`), created with a deterministic
    idempotency key, so concurrent calls and retries converge on the same intent.
    """
    with _stripe_errors():
        for _ in range(4):
            with db.begin():
                order = own_order(db, buyer_id, order_id, refresh=True)
                _require_payable(order, now)
            current = order.payment_intent_id
            if current:
                try:
                    intent = gateway.retrieve_intent(current)
                except gateway.IntentNotFound:
                    intent = None
                if intent is not None and intent.is_open and intent.amount == order.total_cents:
                    return _started(order, intent)
                if intent is not None and (intent.status == "succeeded" or intent.declined):
                    settle_intent(db, intent=intent, now=now)  # then read the order again
                    continue
                if intent is not None and intent.status == "processing":
                    return _started(order, intent)
            attempt = order.failed_payment_attempts
            key = f"ticketing-order-{order.id}-attempt-{attempt}"
            if current:  # replacing a dead intent (cancelled at Stripe): a key of its own
                key = f"{key}-after-{current}"
            intent = gateway.create_intent(
                amount_cents=order.total_cents,
                order_id=order.id,
                attempt=attempt,
                idempotency_key=key,
            )
            with db.begin():
                stored = db.exec(
                    sa.update(Order)
                    .where(
                        Order.id == order.id,
                        Order.status == OrderStatus.CREATED,
                        Order.failed_payment_attempts == attempt,
                        Order.payment_intent_id.is_(None)
                        if current is None
                        else Order.payment_intent_id == current,
                    )
                    .values(payment_intent_id=intent.id)
                ).rowcount
                winner = db.get(Order, order.id, populate_existing=True)
            if stored == 1 or (winner is not None and winner.payment_intent_id == intent.id):
                return _started(order, intent)
            _cancel_quietly(intent.id)  # lost a race to a concurrent start; use theirs
    raise ServiceUnavailable("The payment could not be started. Try again.")


def _started(order: Order, intent: gateway.Intent) -> PaymentStart:
    return PaymentStart(
        order_id=order.id,
        payment_intent_id=intent.id,
        client_secret=intent.client_secret or "",
        amount_cents=intent.amount,
        publishable_key=get_settings().stripe_publishable_key,
    )


def _parse_token(token: Any) -> str:
    if not isinstance(token, str) or not token.strip():
        raise ValidationError("Card token is required", "token")
    token = token.strip()
    if not TOKEN_PATTERN.match(token):
        raise ValidationError("Card token must be a Stripe PaymentMethod id", "token")
    return token


def submit_payment(
    db: Session, *, buyer_id: str, order_id: Any, payment_method: Any, now: datetime
) -> tuple[Settlement, PaymentStart]:
    """Confirm the order's intent server-side with a PaymentMethod id, then settle.

    For the order page: the Settlement says what happened without raising for a decline; when
    it is `pending` with intent_status `requires_action` (3-D Secure), the page runs Stripe.js
    `confirmCardPayment(started.client_secret)` and then `confirm_from_browser`.
    """
    try:
        token = _parse_token(payment_method)
    except ValidationError:
        # 404 / 403 first (docs/api.md): someone else's or an unknown order never gets to
        # hear that the token is wrong. Read only; nothing reaches Stripe.
        with db.begin():
            own_order(db, buyer_id, order_id, refresh=True)
        raise
    started = start_payment(db, buyer_id=buyer_id, order_id=order_id, now=now)
    with _stripe_errors():
        try:
            gateway.confirm_intent(started.payment_intent_id, payment_method=token)
        except gateway.CardDeclined:
            pass  # settle reads the decline from Stripe and records it
        except gateway.InvalidPaymentMethod as exc:
            raise ValidationError(exc.message, "token") from None
        except gateway.IntentStateError as exc:
            log.info("confirm of %s refused: %s", started.payment_intent_id, exc)
        return settle_payment(db, payment_intent_id=started.payment_intent_id, now=now), started


def pay_order(
    db: Session, *, buyer_id: str, order_id: Any, payment_method: Any, now: datetime
) -> Charge:
    """`POST /api/payments`: the settled Charge, or the error telling the buyer why not.

    402 with Stripe's message on a decline; 400 when the order cannot be paid, including the
    race where the reservation ended while the card was being charged (then it is refunded).
    """
    result, _ = submit_payment(
        db, buyer_id=buyer_id, order_id=order_id, payment_method=payment_method, now=now
    )
    if result.outcome in ("pending", "ignored") and result.intent_status != "requires_action":
        # Nothing settled. If the order ended meanwhile (cancelled or expired while the card
        # was being charged: its intent was cancelled at Stripe), that is the answer, not
        # "still being processed": it never will be.
        with db.begin():
            _require_payable(own_order(db, buyer_id, order_id, refresh=True), now)
    return charge_or_raise(result)


def stripe_js_url() -> str:
    """Where the order page loads Stripe.js: localstripe's stand-in when STRIPE_API_BASE is set."""
    settings = get_settings()
    if settings.stripe_js_url:
        return settings.stripe_js_url
    if settings.stripe_api_base:
        return settings.stripe_api_base.rstrip("/") + "/js.stripe.com/v3/"
    return "https://js.stripe.com/v3/"


def charge_or_raise(result: Settlement) -> Charge:
    """The paid Charge, or the DomainError telling the buyer what happened."""
    if result.outcome == "paid" and result.charge is not None:
        return result.charge
    if result.outcome == "declined":
        raise PaymentDeclined(result.decline_message(), "token")
    if result.outcome in ("refunded", "refund_pending"):
        raise RuleViolation(result.message or REFUNDED_MESSAGE)
    if result.intent_status == "requires_action":
        raise PaymentDeclined(
            "This card needs extra authentication; pay on the order page", "token"
        )
    raise ServiceUnavailable("The payment is still being processed. Check the order shortly.")


def confirm_from_browser(
    db: Session, *, buyer_id: str, order_id: Any, payment_intent_id: Any, now: datetime
) -> Settlement:
    """After Stripe.js answered on the order page: settle from what STRIPE says happened."""
    with db.begin():
        order = own_order(db, buyer_id, order_id, refresh=True)
    if not isinstance(payment_intent_id, str) or not payment_intent_id.startswith("pi_"):
        raise NotFound(PAYMENT_NOT_FOUND)
    with _stripe_errors():
        intent = gateway.retrieve_intent(payment_intent_id)
        if intent.order_id != order.id:
            raise NotFound(PAYMENT_NOT_FOUND)
        return settle_intent(db, intent=intent, now=now)


def handle_webhook(db: Session, *, payload: bytes, signature: str | None, now: datetime) -> str:
    """A signed Stripe event: settle its PaymentIntent once; a redelivery changes nothing.

    Raises ValidationError (400) for a bad or stale signature and ServiceUnavailable (503,
    Stripe redelivers) when the outcome could not be applied yet.
    """
    try:
        event = gateway.parse_webhook(payload, signature)
    except gateway.InvalidSignature as exc:
        raise ValidationError(exc.message, "Stripe-Signature") from None
    with db.begin():
        if db.get(StripeEvent, event.id) is not None:
            return "duplicate"
    outcome = "ignored"
    if event.type in WEBHOOK_EVENTS and event.payment_intent_id:
        try:
            outcome = settle_payment(db, payment_intent_id=event.payment_intent_id, now=now).outcome
        except gateway.IntentNotFound:
            outcome = "ignored"
        except gateway.GatewayError as exc:
            raise ServiceUnavailable(exc.message) from None
        if outcome == "refund_pending":
            raise ServiceUnavailable("A refund is in progress; deliver this event again later")
    try:
        with db.begin():
            db.add(StripeEvent(id=event.id, type=event.type, received_at=now))
    except IntegrityError:
        pass  # a concurrent delivery of the same event recorded it first
    return outcome


def prune_stripe_events(db: Session, *, before: datetime) -> int:
    """Forget handled webhook event ids received before `before` (hourly housekeeping). A
    redelivery after that would be settled again, which changes nothing: settling is
    idempotent; the ids only save the work."""
    with db.begin():
        return db.exec(sa.delete(StripeEvent).where(StripeEvent.received_at < before)).rowcount
