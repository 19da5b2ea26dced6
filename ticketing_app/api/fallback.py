"""Every `/api/...` request gets an answer in the SPEC error shape, whatever its method or path.

- Unknown paths answer 404, known paths with the wrong method 405 (with `Allow`). Needed
  because Reflex mounts its own app at the root behind ours, which would otherwise answer
  every unmatched path (in plain text). The router is included LAST.
- `ApiEdges`, an ASGI middleware around the whole app, covers what no route can: `HEAD` on a
  GET route answers like GET without the body (load balancers probe with it; FastAPI routes
  declare GET only), a method no route is declared with (`PROPFIND`, `FOO`) answers 405 or
  404, and `//api/...` (which the router does not see as `/api/...`) answers 404.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing_app.api.errors import error_response

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """Methods some route accepts at this path (FastAPI wraps included routers, so ask every
    top-level route whether it fully matches the path with each method). Mounts are skipped:
    Reflex's app, mounted at the root, matches every path with every method. HEAD goes with
    GET (`ApiEdges`)."""
    ours = [
        r
        for r in routes
        if not isinstance(r, Mount) and getattr(r, "original_router", None) is not router
    ]
    allowed: set[str] = set()
    for method in METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in ours):
            allowed.add(method)
    if "GET" in allowed:
        allowed.add("HEAD")
    return allowed


def _refusal(routes: Sequence[BaseRoute], scope: Scope) -> JSONResponse:
    allowed = allowed_methods(routes, scope)
    if allowed:
        return error_response(
            405, "Method not allowed", headers={"Allow": ", ".join(sorted(allowed))}
        )
    return error_response(404, "Not found")


@router.api_route("/api/{path:path}", methods=METHODS)
def not_found(request: Request, path: str) -> JSONResponse:
    return _refusal(request.app.router.routes, request.scope)


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class ApiEdges:
    """See the module docstring. `routes` is read per request (routers are added later)."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("//") and _is_api("/" + path.lstrip("/")):
            await error_response(404, "Not found")(scope, receive, send)
            return
        if not _is_api(path):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        if method == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
        elif method not in METHODS:
            await _refusal(self.routes(), scope)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _without_body(send: Send) -> Send:
    """Pass the GET answer's status and headers (Content-Length included), drop its body."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head
