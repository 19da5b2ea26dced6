"""The `session` cookie (SPEC §4): set only by HTTP responses (HttpOnly), read by the API and,
through the WebSocket handshake's headers, by Reflex state. One place knows its name and flags."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.responses import Response

from ticketing_app.settings import get_settings

COOKIE_NAME = "session"


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


def token_from_cookie_header(header: str | None) -> str | None:
    """The session token from a raw `Cookie:` header, or None."""
    if not header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        # A foreign malformed cookie must not hide ours: fall back to a plain split.
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE_NAME and value:
                return value
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel and morsel.value else None
