"""The public reads' hot path (issue 19): a GET whose encoded answer the read model already
holds is answered here, in front of FastAPI — before its routing, parameter parsing and
middlewares, which cost several times the lookup itself (docs/performance.md). So are the two
plainest paths: `GET /api/health` (the same check as its route) and
`GET /api/users/currentuser` without a session cookie (`{"currentUser": null}`).

Only requests it can read with certainty: the exact paths of `GET /api/tickets`,
`/api/tickets/{id}`, `/api/events`, `/api/events/{id}` and `/api/events/{id}/tickets`, with no
query parameters but `limit` and `offset` (lists), each at most once and in range, and an
entry already built (`ReadModel.peek`: none is built here, and a due gap check falls through
too). Anything else goes on to the routes unchanged, which build the entry and answer the same
bytes and headers (`api/caching.public_response`); a HEAD goes through ApiEdges as before.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing_app import readmodel
from ticketing_app.api import health
from ticketing_app.api.caching import PRIVATE, etag_matches, public_cache_control
from ticketing_app.services.tickets import MAX_LIMIT
from ticketing_app.web_session import COOKIE_NAME

_LIST_DEFAULT_LIMIT = 50  # the routes' default `limit`


def _page(query: bytes) -> tuple[int, int] | None:
    """(limit, offset) of a list's query string, or None unless it is exactly that."""
    limit, offset = _LIST_DEFAULT_LIMIT, 0
    if query:
        try:
            pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        seen: set[str] = set()
        for name, value in pairs:
            if name in seen or name not in ("limit", "offset") or not value.isdigit():
                return None
            seen.add(name)
            if len(value) > 7:
                return None
            if name == "limit":
                limit = int(value)
            else:
                offset = int(value)
    if not 1 <= limit <= MAX_LIMIT or offset + limit > readmodel.DEPTH:
        return None
    return limit, offset


def key_for(path: str, query: bytes) -> Any | None:
    """The read model's key of the encoded answer to this GET, or None."""
    if path == "/api/tickets" or path == "/api/events":
        page = _page(query)
        if page is None:
            return None
        return ("tickets" if path == "/api/tickets" else "events", *page)
    parts = path.split("/")  # "", "api", kind, id[, "tickets"]
    if len(parts) == 4 and parts[3] and not query:
        if parts[2] == "tickets":
            return ("ticket", parts[3])
        if parts[2] == "events":
            return ("event", parts[3])
        return None
    if len(parts) == 5 and parts[2] == "events" and parts[3] and parts[4] == "tickets":
        page = _page(query)
        return None if page is None else ("event-tickets", parts[3], *page)
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _signed_out(scope: Scope) -> bool:
    """No session cookie at all (an empty one counts as none, as for the route)."""
    cookies = _header(scope, b"cookie")
    return cookies is None or not cookie_parser(cookies).get(COOKIE_NAME)


NOBODY = b'{"currentUser":null}'


class ReadModelFastPath:
    """Pure ASGI, outermost: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path == "/api/health":
                status, body = await health.check()
                await _send_json(send, status, json.dumps(body, separators=(",", ":")).encode())
                return
            if path == "/api/users/currentuser" and _signed_out(scope):
                await _send_json(send, 200, NOBODY, [(b"cache-control", PRIVATE.encode())])
                return
            if path.startswith("/api/") and readmodel.enabled():
                key = key_for(path, scope["query_string"])
                found = None
                if key is not None:
                    found = readmodel.get_read_model().peek(("encoded", key))
                if found is not None:
                    await _answer(found, scope, send)
                    return
        await self.app(scope, receive, send)


async def _answer(found: readmodel.Encoded, scope: Scope, send: Send) -> None:
    headers = [
        (b"etag", found.etag.encode()),
        (b"cache-control", public_cache_control().encode()),
    ]
    wanted = _header(scope, b"if-none-match")
    if wanted is not None and etag_matches(wanted, found.etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    if found.total is not None:
        headers.append((b"x-total-count", found.total.encode()))
    headers += [
        (b"content-length", str(len(found.body)).encode()),
        (b"content-type", b"application/json"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": found.body})


async def _send_json(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        *(extra or []),
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
