"""REST API (SPEC §4): a FastAPI app mounted on the Reflex backend via api_transformer.

Adding a feature's routes is one `include_router` line in `build_api()`; the shared pieces live
in `api/deps.py` (current user, JSON body) and `api/errors.py` (error shape and responses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from reflex_base.constants import Endpoint
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing_app.api.errors import install_error_handlers


def _openapi_without_422(api: FastAPI) -> dict[str, Any]:
    """FastAPI documents 422 for every route; ours answer 400 with the SPEC error shape."""
    if api.openapi_schema is None:
        schema = get_openapi(
            title=api.title,
            version=api.version,
            description=api.description,
            routes=api.routes,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
                if "security" in operation:  # FastAPI appends openapi_extra's; drop repeats
                    unique: list[dict[str, Any]] = []
                    for requirement in operation["security"]:
                        if requirement not in unique:
                            unique.append(requirement)
                    operation["security"] = sorted(unique, key=len)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        api.openapi_schema = schema
    return api.openapi_schema


def build_api() -> FastAPI:
    """The FastAPI app that Reflex mounts its own backend under (`rx.App(api_transformer=...)`)."""
    from ticketing_app.api import (
        admin,
        delivery,
        events,
        fallback,
        fastpath,
        health,
        orders,
        payments,
        payouts,
        seo,
        session_bridge,
        tickets,
        users,
        watches,
    )
    from ticketing_app.settings import get_settings

    get_settings()  # refuse to start on a bad configuration (e.g. live keys, public secret)

    api = FastAPI(
        title="Ticketing API",
        version="1.0.0",
        description=(
            "Ticket resale marketplace. Errors are always "
            '`{"errors": [{"message": "...", "field": "price"}]}`. '
            "Auth: the HttpOnly `session` cookie set by signup/signin."
        ),
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    install_error_handlers(api)
    api.include_router(users.router)
    api.include_router(tickets.router)
    api.include_router(orders.router)
    api.include_router(health.router)
    api.include_router(session_bridge.router)
    api.include_router(payments.router)
    api.include_router(events.router)
    api.include_router(delivery.router)
    api.include_router(watches.router)
    api.include_router(payouts.router)  # /api/balance, /api/payouts, /api/admin/payouts
    api.include_router(seo.router)  # /sitemap.xml
    api.include_router(admin.router)
    # New routers go above this line; the fallback (404/405 for unknown /api paths) stays last.
    api.include_router(fallback.router)
    # HEAD, odd methods and `//api/...` in the same shape (around Reflex's mount too).
    api.add_middleware(fallback.ApiEdges, routes=lambda: api.router.routes)
    api.openapi = lambda: _openapi_without_422(api)  # type: ignore[method-assign]
    # Head tags of /events/{id} and /tickets/{id} in the HTML the one-port server sends.
    api.add_middleware(seo.LinkPreviewMiddleware)
    # Outermost: a public read the read model already holds never reaches FastAPI's stack.
    api.add_middleware(fastpath.ReadModelFastPath)
    return api


def reflex_under(api: FastAPI) -> Callable[[ASGIApp], ASGIApp]:
    """`rx.App(api_transformer=reflex_under(build_api()))`: Reflex's backend mounted under the
    API, as Reflex mounts it under a FastAPI app it is given (every path no API route takes goes
    to Reflex's), except its event socket, which goes to Reflex's directly. Through the API it
    paid FastAPI's middlewares and the matching of every API route, about 0.17 ms of a
    connecting tab's backend time (docs/performance.md, issue 19). The CORS rules Reflex puts
    on every request are the same: its own outer app applies them to all of them."""
    socket = str(Endpoint.EVENT)

    def transform(backend: ASGIApp) -> ASGIApp:
        api.mount("", backend)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "lifespan" and scope["path"].startswith(socket):
                await backend(scope, receive, send)
            else:
                await api(scope, receive, send)

        return app

    return transform
