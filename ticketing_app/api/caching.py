"""HTTP caching of the public reads (issue 19): `ETag` on every public list and detail
response, `304 Not Modified` for a matching `If-None-Match`, and a `Cache-Control` that a CDN
can respect. Only for responses that are the same for every caller (no cookie is read on
those routes); personal responses (`/api/users/currentuser`, orders, ...) say `private,
no-store` or nothing a shared cache may store."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ticketing_app.readmodel import Encoded, encode
from ticketing_app.settings import get_settings

PRIVATE = "private, no-store"


@lru_cache(maxsize=1)
def _cache_control(max_age: int) -> str:
    # max-age=0 with no-cache: a CDN may keep the body but asks us (cheaply: 304) every time.
    return f"public, max-age={max_age}" if max_age else "public, max-age=0, no-cache"


def public_cache_control() -> str:
    return _cache_control(get_settings().ticketing_public_max_age)


def etag_matches(header: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*`, or a list of (weak or strong) tags compared weakly."""
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == opaque for part in header.split(","))


def public_response(request: Request, encoded: Encoded) -> Response:
    """The encoded JSON body (or a 304), with ETag, Cache-Control and X-Total-Count."""
    headers = {"ETag": encoded.etag, "Cache-Control": public_cache_control()}
    wanted = request.headers.get("if-none-match")
    if wanted is not None and etag_matches(wanted, encoded.etag):
        return Response(status_code=304, headers=headers)
    if encoded.total is not None:
        headers["X-Total-Count"] = encoded.total
    return Response(encoded.body, media_type="application/json", headers=headers)


def public_json(request: Request, content: Any, total: int | None = None) -> Response:
    """`public_response` of content read from the database (not from the read model)."""
    return public_response(request, encode(content, total))
