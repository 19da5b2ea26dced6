"""The `session` cookie (SPEC §4): set only by HTTP responses (HttpOnly), read by the API and,
through the WebSocket handshake's headers, by Reflex state. One place knows its name and flags,
and the one check of where a sign-in or sign-out may send the browser next (`safe_next`)."""

from __future__ import annotations

import unicodedata
from http.cookies import CookieError, SimpleCookie
from urllib.parse import unquote, urlsplit

from starlette.responses import Response

from ticketing_app.settings import get_settings

COOKIE_NAME = "session"
DEVICE_COOKIE_NAME = "device"


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=get_settings().ticketing_session_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().ticketing_secure_cookies,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().ticketing_secure_cookies,
    )


def set_device_cookie(response: Response, value: str) -> None:
    """The known-device cookie (services/known_device.py): long-lived, HttpOnly, and on
    Path=/ so the Reflex socket's handshake carries it to the sign-in page's handler."""
    response.set_cookie(
        DEVICE_COOKIE_NAME,
        value,
        max_age=get_settings().ticketing_device_cookie_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().ticketing_secure_cookies,
    )


def token_from_cookie_header(header: str | None, name: str = COOKIE_NAME) -> str | None:
    """The session token (or another cookie of ours) from a raw `Cookie:` header, or None."""
    if not header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        # A foreign malformed cookie must not hide ours: fall back to a plain split.
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name and value:
                return value
        return None
    morsel = jar.get(name)
    return morsel.value if morsel and morsel.value else None


NEXT_MAX = 2048
# Controls (C0, DEL, C1), format characters (zero-width, bidi, BOM), line/paragraph separators
# and every space but U+0020: URL parsers strip tab/CR/LF (`/\t/evil.example` is
# `//evil.example`), and none of them belong in a path of ours. The backslash is a slash to
# browsers (`/\evil.example`).
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}


def _refused_char(char: str) -> bool:
    return char == "\\" or (char != " " and unicodedata.category(char) in _REFUSED_CATEGORIES)


def _safe_path(path: str) -> bool:
    """A path on this site as written and after each percent-decoding (`/%09/evil.example`,
    `/%2509/…`): starts with one `/`, no refused character."""
    for _ in range(4):
        if not path.startswith("/") or path.startswith("//"):
            return False
        if any(_refused_char(char) for char in path):
            return False
        decoded = unquote(path)
        if decoded == path:
            return True
        path = decoded
    return False  # still encoded after three decodings: nobody writes that


def safe_next(target: object, *, host: str | None = None) -> str:
    """Where to send the browser after signing in or out: `target` when it is a path on this
    site (`/orders?x=1`), or, given `host`, an http(s) URL on that host name (any port: dev and
    the static export serve pages on another port of the backend's host); otherwise `/`.
    One check for the pages (`state/`) and the cookie bridge (`api/session_bridge.py`)."""
    if not isinstance(target, str) or not target or len(target) > NEXT_MAX:
        return "/"
    if target.startswith("/"):
        return target if _safe_path(target) else "/"
    if host is None or any(_refused_char(char) for char in target):
        return "/"
    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not target.lower().startswith(origin.lower())
        or parts.username is not None
        or parts.password is not None
        or not port_ok
        or parts.hostname != host.lower()
    ):
        return "/"
    rest = target[len(origin) :]
    return target if _safe_path(rest if rest.startswith("/") else "/" + rest) else "/"
