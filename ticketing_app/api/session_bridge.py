"""How a Reflex page signs a browser in or out with an HttpOnly cookie.

A Reflex event handler cannot set an HttpOnly cookie (it only talks over the WebSocket). So
the sign-in/up handler checks the credentials through the auth service, which creates the
DB session, swaps its token for a one-time code (`auth.begin_handoff`, valid 60 s), then
makes the browser POST that code to `/api/auth/session` (a form post, never a URL). This route
exchanges the code for a fresh session token (`auth.adopt_handoff`), sets it as the HttpOnly
cookie and answers 303 to the page to show next; that full navigation reopens the WebSocket,
whose handshake now carries the cookie to the state. The session token itself never reaches
page JavaScript. Sign-out revokes the DB session in the handler, then posts to
`/api/auth/clear`.

Both routes refuse cross-site posts (403): otherwise any site could sign a visitor in to the
attacker's account (login CSRF) or out of theirs. Browsers say where a post comes from in
`Sec-Fetch-Site` (the frontend and backend are the same site: dev runs them on ports 3000
and 8000 of one host); older ones, and any browser over plain HTTP, only in `Origin`, whose
host must then be ours (`deps.refuse_cross_site`). The JSON sign-in/up routes do the same.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from ticketing_app.api.deps import refuse_cross_site
from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import auth, known_device
from ticketing_app.web_session import (
    clear_session_cookie,
    safe_next,
    set_device_cookie,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


@router.post("/api/auth/session")
def adopt_session(
    request: Request, code: str = Form(...), next: str = Form("/")
) -> RedirectResponse:
    refuse_cross_site(request)
    response = RedirectResponse(safe_next(next, host=request.url.hostname), status_code=303)
    with write_session() as db:
        adopted = auth.adopt_handoff(db, code=code, now=utcnow())
    if adopted is not None:
        set_session_cookie(response, adopted.token)
        set_device_cookie(response, known_device.issue(adopted.email))
    return response


@router.post("/api/auth/clear")
def clear_session(request: Request, next: str = Form("/")) -> RedirectResponse:
    refuse_cross_site(request)
    response = RedirectResponse(safe_next(next, host=request.url.hostname), status_code=303)
    clear_session_cookie(response)
    return response
