"""Unknown `/api/...` paths answer 404, and known paths with the wrong method 405 (with
`Allow`), in the SPEC error shape. Needed because Reflex mounts its own app at the root behind
ours, which would otherwise answer every unmatched path. Include this router LAST."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match, Mount

from ticketing_app.api.errors import error_response

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def allowed_methods(request: Request) -> set[str]:
    """Methods some other route accepts at this path (FastAPI wraps included routers, so ask
    every top-level route whether it fully matches the path with each method). Mounts are
    skipped: Reflex's app, mounted at the root, matches every path with every method."""
    routes = [
        r
        for r in request.app.router.routes
        if not isinstance(r, Mount) and getattr(r, "original_router", None) is not router
    ]
    allowed: set[str] = set()
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.add(method)
    return allowed


@router.api_route("/api/{path:path}", methods=METHODS)
def not_found(request: Request, path: str) -> JSONResponse:
    allowed = allowed_methods(request)
    if allowed:
        return error_response(
            405, "Method not allowed", headers={"Allow": ", ".join(sorted(allowed))}
        )
    return error_response(404, "Not found")
