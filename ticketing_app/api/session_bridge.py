"""How a Reflex page signs a browser in or out with an HttpOnly cookie.

A Reflex event handler cannot set an HttpOnly cookie (it only talks over the WebSocket). So
the sign-in/up handler checks the credentials through the auth service, which creates the
DB session, then makes the browser POST the new token to `/api/auth/session` (a form post,
never a URL). This route sets the cookie and answers 303 to the page to show next; that full
navigation reopens the WebSocket, whose handshake now carries the cookie to the state.
Sign-out revokes the DB session in the handler, then posts to `/api/auth/clear`.
"""

from __future__ import annotations

from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import auth
from ticketing_app.web_session import clear_session_cookie, set_session_cookie

router = APIRouter(include_in_schema=False)


def safe_next(request: Request, target: str) -> str:
    """Only redirect to a path, or to the same host (any port: dev runs 3000 and 8000)."""
    parsed = urlparse(target or "/")
    if (
        not parsed.scheme
        and not parsed.netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    if parsed.scheme in ("http", "https") and parsed.hostname == request.url.hostname:
        return target
    return "/"


@router.post("/api/auth/session")
def adopt_session(
    request: Request, token: str = Form(...), next: str = Form("/")
) -> RedirectResponse:
    response = RedirectResponse(safe_next(request, next), status_code=303)
    with write_session() as db:
        user = auth.current_user(db, token=token, now=utcnow())
    if user is not None:
        set_session_cookie(response, token)
    return response


@router.post("/api/auth/clear")
def clear_session(request: Request, next: str = Form("/")) -> RedirectResponse:
    response = RedirectResponse(safe_next(request, next), status_code=303)
    clear_session_cookie(response)
    return response
