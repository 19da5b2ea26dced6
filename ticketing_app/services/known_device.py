"""Known-device cookies (OWASP "Slow down online guessing attacks with device cookies").

The per-email sign-in limit stops password guessing, but it also let anyone lock an owner out
for the whole window with ten wrong guesses. A browser that has signed in to an account
before holds a device cookie for it: a random nonce and an HMAC (server secret, backend only)
over the account's email and that nonce. A sign-in presenting a valid one for the email it
tries is not subject to that email's limit, only to its own per-device one; every other
attempt is counted against the email as before. The email is not in the cookie: the MAC is
checked against the email being signed in to, so a cookie works for that account only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from ticketing_app.settings import get_settings

DEVICE_KEY_PREFIX = "device:"  # signin_failures.email of a known device's failures
_NONCE_BYTES = 16


@lru_cache(maxsize=1)
def _secret() -> bytes:
    """TICKETING_DEVICE_COOKIE_SECRET, or one random secret per process (then a cookie is only
    recognised by the process that issued it, until it restarts: set it for several workers)."""
    configured = get_settings().ticketing_device_cookie_secret
    return configured.encode() if configured else secrets.token_bytes(32)


def _mac(email: str, nonce: str) -> str:
    message = f"{email}\x00{nonce}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def issue(email: str) -> str:
    """A new device cookie value for a browser that just signed in to `email` (normalised)."""
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    return f"{nonce}.{_mac(email, nonce)}"


def throttle_key(cookie: object, email: str) -> str | None:
    """The key this device's failed sign-ins to `email` are counted under, or None when the
    cookie is missing, forged, or was issued for another account (the attempt then counts
    against the email)."""
    if not isinstance(cookie, str) or len(cookie) > 200:
        return None
    nonce, _, mac = cookie.partition(".")
    if not nonce or not mac or not hmac.compare_digest(mac, _mac(email, nonce)):
        return None
    return DEVICE_KEY_PREFIX + hashlib.sha256(cookie.encode()).hexdigest()


def forget_secret() -> None:
    """Tests that change TICKETING_DEVICE_COOKIE_SECRET."""
    _secret.cache_clear()
