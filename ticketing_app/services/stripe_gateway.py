"""The one module that talks to Stripe. Everything else sees plain values and four exceptions.

It uses the real `stripe` SDK against real Stripe, or against localstripe when
`STRIPE_API_BASE` is set (tests and local runs). Only documented Stripe behaviour is relied on:
PaymentIntents with `payment_method_types=["card"]`, update-then-confirm, cancel, refunds by
PaymentIntent with an idempotency key, and signed webhook events.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import stripe

from ticketing_app.services.messages import CARD_DECLINED
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

# The deployment's one currency (TICKETING_CURRENCY), as Stripe spells it.
CURRENCY = get_settings().ticketing_currency.lower()
HTTP_TIMEOUT_SECONDS = 20
WEBHOOK_TOLERANCE_SECONDS = 300
# PaymentIntent states that can still be confirmed (the open ones a buyer may pay with).
OPEN_STATUSES = ("requires_payment_method", "requires_confirmation", "requires_action")


class GatewayError(Exception):
    """Base for everything that went wrong talking to Stripe."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GatewayUnavailable(GatewayError):
    """Stripe could not be reached or failed on its side: worth retrying later."""


class CardDeclined(GatewayError):
    """The card was declined; `message` is Stripe's, shown to the buyer as is."""


class InvalidPaymentMethod(GatewayError):
    """The PaymentMethod id is unknown or unusable (not a decline: nothing was charged)."""


class IntentNotFound(GatewayError):
    pass


class IntentStateError(GatewayError):
    """The PaymentIntent is not in a state that allows this (e.g. already succeeded)."""


class AlreadyRefunded(GatewayError):
    pass


class InvalidSignature(GatewayError):
    pass


@dataclass(frozen=True)
class Intent:
    """What the business needs to know about a PaymentIntent, retrieved from Stripe."""

    id: str
    status: str
    amount: int
    currency: str
    order_id: str | None
    client_secret: str | None
    decline_message: str | None

    @property
    def declined(self) -> bool:
        return self.status == "requires_payment_method" and self.decline_message is not None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES and not self.declined


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    payment_intent_id: str | None


_clients: dict[tuple[str, str | None], stripe.StripeClient] = {}
_clients_lock = threading.Lock()


def client() -> stripe.StripeClient:
    """A StripeClient for the configured key and API base (cached; thread-safe)."""
    settings = get_settings()
    key = (settings.stripe_secret_key, settings.stripe_api_base)
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = stripe.StripeClient(
                settings.stripe_secret_key,
                base_addresses={"api": settings.stripe_api_base}
                if settings.stripe_api_base
                else None,
                max_network_retries=2,
                http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT_SECONDS),
            )
            _clients[key] = found
        return found


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or "The payment service returned an error"


def _is_missing(exc: stripe.StripeError) -> bool:
    return exc.code == "resource_missing" or exc.http_status == 404


def _unavailable(exc: stripe.StripeError) -> GatewayUnavailable:
    log.warning("Stripe unavailable: %s", exc)
    return GatewayUnavailable("The payment service is unavailable. Try again shortly.")


def _to_intent(resource: Any) -> Intent:
    obj = resource.to_dict()
    error = obj.get("last_payment_error")
    metadata = obj.get("metadata") or {}
    return Intent(
        id=obj["id"],
        status=obj["status"],
        amount=int(obj["amount"]),
        currency=obj["currency"],
        order_id=metadata.get("order_id"),
        client_secret=obj.get("client_secret"),
        decline_message=(error.get("message") or CARD_DECLINED) if error else None,
    )


_RETRYABLE = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


def create_intent(
    *, amount_cents: int, order_id: str, attempt: int, idempotency_key: str
) -> Intent:
    """A new card PaymentIntent for one payment attempt on an order."""
    try:
        obj = client().v1.payment_intents.create(
            params={
                "amount": amount_cents,
                "currency": CURRENCY,
                "payment_method_types": ["card"],
                "metadata": {"order_id": order_id, "attempt": str(attempt)},
            },
            options={"idempotency_key": idempotency_key},
        )
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError as exc:
        log.error("Stripe refused to create a PaymentIntent: %s", exc)
        raise GatewayUnavailable("The payment could not be started. Try again shortly.") from exc
    return _to_intent(obj)


def retrieve_intent(payment_intent_id: str) -> Intent:
    try:
        obj = client().v1.payment_intents.retrieve(payment_intent_id)
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError as exc:
        if _is_missing(exc):
            raise IntentNotFound("Payment not found") from exc
        raise GatewayError(_message(exc)) from exc
    return _to_intent(obj)


def confirm_intent(payment_intent_id: str, *, payment_method: str) -> Intent:
    """Attach the buyer's PaymentMethod, then confirm (charge) the PaymentIntent."""
    intents = client().v1.payment_intents
    try:
        intents.update(payment_intent_id, params={"payment_method": payment_method})
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError as exc:
        if _is_missing(exc):
            raise InvalidPaymentMethod("That card is not known to Stripe") from exc
        raise IntentStateError(_message(exc)) from exc
    try:
        return _to_intent(intents.confirm(payment_intent_id))
    except stripe.CardError as exc:
        raise CardDeclined(_message(exc)) from exc
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError as exc:
        if _is_missing(exc):
            raise InvalidPaymentMethod("That card is not known to Stripe") from exc
        raise IntentStateError(_message(exc)) from exc


def cancel_intent(payment_intent_id: str) -> Intent:
    """Cancel an open PaymentIntent; if it cannot be cancelled, return its current state."""
    try:
        return _to_intent(client().v1.payment_intents.cancel(payment_intent_id))
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError as exc:
        if _is_missing(exc):
            raise IntentNotFound("Payment not found") from exc
        return retrieve_intent(payment_intent_id)


def refund_intent(payment_intent_id: str, *, idempotency_key: str, order_id: str) -> str:
    """Refund a succeeded PaymentIntent in full; returns the Refund id (the same for a retry)."""
    refunds = client().v1.refunds
    try:
        refund = refunds.create(
            params={"payment_intent": payment_intent_id, "metadata": {"order_id": order_id}},
            options={"idempotency_key": idempotency_key},
        )
        return str(refund.id)
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError as exc:
        if exc.code == "charge_already_refunded":
            existing = find_refund(payment_intent_id)
            if existing:
                return existing
        log.error("Stripe refused a refund for %s: %s", payment_intent_id, exc)
        raise GatewayUnavailable("The refund could not be made yet; it will be retried.") from exc


def find_refund(payment_intent_id: str) -> str | None:
    """The newest Refund of a PaymentIntent, if any."""
    try:
        page = client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 1})
    except _RETRYABLE as exc:
        raise _unavailable(exc) from exc
    except stripe.StripeError:
        return None
    return str(page.data[0].id) if page.data else None


def _signed_at(signature: str) -> int:
    """The `t=` of a `Stripe-Signature` header the SDK has verified, read as the SDK reads it
    (the first `t` item; the signature covers that timestamp)."""
    items = [item.split("=", 2) for item in signature.split(",")]
    return int([item[1] for item in items if item[0] == "t"][0])


def parse_webhook(payload: bytes, signature: str | None) -> WebhookEvent:
    """Verify the `Stripe-Signature` header over the raw body and extract what we act on."""
    if not signature:
        raise InvalidSignature("Missing Stripe signature")
    try:
        event = stripe.Webhook.construct_event(
            payload,
            signature,
            get_settings().stripe_webhook_secret,
            tolerance=WEBHOOK_TOLERANCE_SECONDS,
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature("Invalid or expired Stripe signature") from exc
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError) as exc:
        raise InvalidSignature("Webhook body is not a Stripe event") from exc
    # The SDK refuses only signatures older than the tolerance; one dated ahead (a replay
    # window an attacker who once had the secret could stretch) is refused here too.
    if _signed_at(signature) > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidSignature("Invalid or expired Stripe signature")
    body = event.to_dict()
    event_id, event_type = body.get("id"), body.get("type")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if (
        not isinstance(event_id, str)
        or not isinstance(event_type, str)
        or not isinstance(obj, dict)
    ):
        raise InvalidSignature("Webhook body is not a Stripe event")
    if obj.get("object") == "payment_intent":
        intent_id = obj.get("id")
    else:  # charges and refunds name their PaymentIntent
        intent_id = obj.get("payment_intent")
    if isinstance(intent_id, dict):  # expanded
        intent_id = intent_id.get("id")
    if not isinstance(intent_id, str) or not intent_id.startswith("pi_"):
        intent_id = None
    return WebhookEvent(id=event_id, type=event_type, payment_intent_id=intent_id)
