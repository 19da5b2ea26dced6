"""Request dependencies every router shares: the signed-in user and the raw JSON body.

Identity comes only from the HttpOnly `session` cookie (SPEC §4), resolved by the auth
service; the body is read as plain JSON so that the services' validation, with their clear
per-field messages, is the only validation there is.

Error precedence (docs/api.md): 401, then 404, then 403, then 400/413 for the body. A route
that needs a signed-in user takes `LateJsonBody`, whose parse error is raised only when the
route asks for the body (`body.json()`), after it has checked who is calling and, where the
resource is in the path, that it exists and is theirs. `JsonBody` (raises at once) is for
routes without sign-in (signup, signin).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyCookie

from ticketing_app.db import write_session
from ticketing_app.errors import DomainError, Forbidden, NotAuthenticated, ValidationError
from ticketing_app.models import utcnow
from ticketing_app.services import auth, operators
from ticketing_app.services.tickets import MAX_LIMIT, MAX_OFFSET
from ticketing_app.web_session import COOKIE_NAME

MAX_BODY_BYTES = 64 * 1024
_BAD_TEXT = re.compile(r"[\x00\ud800-\udfff]")

# Declared as a security scheme so OpenAPI shows which routes need the cookie.
session_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    description="Opaque session token set (HttpOnly) by signup/signin",
)


class BodyTooLarge(DomainError):
    status = 413


# `async def` for the two trivial dependencies: FastAPI runs a plain `def` dependency in the
# threadpool, a hop per request each that bought nothing (bench/bench_http_reserve).
async def session_token(token: Annotated[str | None, Depends(session_cookie)]) -> str | None:
    return token or None


def optional_user(token: Annotated[str | None, Depends(session_token)]) -> auth.SignedIn | None:
    """The signed-in user, or None (also for an expired or revoked session)."""
    if not token:
        return None
    # One DriverQuery read (no transaction, no lock); a write only when the hourly expiry
    # slide is due (auth.current_user, bench_http_reserve, performance.md §2).
    with write_session() as db:
        return auth.current_user(db, token=token, now=utcnow())


async def require_user(
    user: Annotated[auth.SignedIn | None, Depends(optional_user)],
) -> auth.SignedIn:
    """401 unless signed in; checked on the server for every protected route."""
    return signed_in_or_401(user)


async def require_operator(
    user: Annotated[auth.SignedIn | None, Depends(optional_user)],
) -> auth.SignedIn:
    """401 signed out, 403 unless the session's user is an operator (SPEC §12); every
    /api/admin route depends on it."""
    return operators.require_operator(user)


def signed_in_or_401(user: auth.SignedIn | None) -> auth.SignedIn:
    if user is None:
        raise NotAuthenticated("You must be signed in")
    return user


CROSS_SITE = "Cross-site request refused"


def refuse_cross_site(request: Request) -> None:
    """403 for a request another site's page made the browser send: a form auto-posted from
    elsewhere (a `text/plain` form can carry a JSON body) would otherwise sign the visitor in
    to the attacker's account (login CSRF). Browsers say where a request comes from in
    `Sec-Fetch-Site` (HTTPS and localhost) and `Origin`; for the latter, our host is the
    `Host` header or, behind a proxy, `X-Forwarded-Host`. Clients that are not browsers send
    neither and pass."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site == "cross-site":
            raise Forbidden(CROSS_SITE)
        return
    origin = request.headers.get("origin")
    if not origin:
        return
    ours = {request.url.hostname}
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded:
        ours.add(urlparse("//" + forwarded.split(",")[0].strip()).hostname)
    if urlparse(origin).hostname not in ours:
        raise Forbidden(CROSS_SITE)


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413 in the SPEC error shape (403 when
    another site's page sent it: `refuse_cross_site`)."""
    refuse_cross_site(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge("Request body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # stop early instead of buffering a huge body
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge("Request body too large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ValidationError("Request body must be a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    for key, value in data.items():
        if _has_bad_text(key) or _has_bad_text(value):
            raise ValidationError(
                "Text must not contain NUL characters or invalid Unicode", str(key)[:64]
            )
    return data


@dataclass(frozen=True)
class LateBody:
    """The body's JSON object, or the 400/413 reading it gave, held back until `json()`."""

    data: dict[str, Any]
    error: DomainError | None = None

    def json(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return self.data


async def late_json_body(request: Request) -> LateBody:
    """Read and parse the body now (in async code), but report a bad one only on `json()`."""
    try:
        return LateBody(await json_body(request))
    except DomainError as exc:  # BodyTooLarge (413) or ValidationError (400)
        return LateBody({}, exc)


def _has_bad_text(value: Any, depth: int = 0) -> bool:
    """NUL (PostgreSQL refuses it) or lone surrogates (not encodable) anywhere in a value."""
    if isinstance(value, str):
        return _BAD_TEXT.search(value) is not None
    if depth > 32:  # no field of ours is that deep; the services reject it as the wrong type
        return False
    if isinstance(value, dict):
        return any(
            _has_bad_text(k, depth + 1) or _has_bad_text(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_bad_text(v, depth + 1) for v in value)
    return False


CurrentUser = Annotated[auth.SignedIn, Depends(require_user)]
MaybeUser = Annotated[auth.SignedIn | None, Depends(optional_user)]
SessionToken = Annotated[str | None, Depends(session_token)]
JsonBody = Annotated[dict[str, Any], Depends(json_body)]
LateJsonBody = Annotated[LateBody, Depends(late_json_body)]
# Paging of list routes (GET /api/tickets, GET /api/orders); each route sets its own default.
# The service checks the range (`tickets.check_page`); a non-integer is FastAPI's 400.
PageLimit = Annotated[
    int,
    Query(
        json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT},
        description=f"Page size, 1–{MAX_LIMIT}",
    ),
]
PageOffset = Annotated[
    int,
    Query(
        json_schema_extra={"minimum": 0, "maximum": MAX_OFFSET},
        description="How many to skip",
    ),
]
