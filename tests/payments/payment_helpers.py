"""Helpers for the payment tests (imported by the test modules as `payment_helpers`): webhook
signing and payloads. Users, tickets, orders and payments come from `tests.support.World` (the
`world` fixture, conftest.py), localstripe from `tests.support.stripe`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from tests.support.stripe import SECRET_KEY, WEBHOOK_SECRET, LocalStripe

__all__ = ["SECRET_KEY", "WEBHOOK_SECRET", "LocalStripe", "event_payload", "sign"]


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A `Stripe-Signature` header exactly as Stripe (and localstripe) computes it."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_payload(
    intent: Any, type: str = "payment_intent.succeeded", event_id: str | None = None
) -> bytes:
    """A Stripe event envelope around a PaymentIntent, as Stripe sends it."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent.to_dict() if hasattr(intent, "to_dict") else intent},
    }
    return json.dumps(event).encode()
