"""The one JSON error shape of SPEC §4 for every error the API can produce.

`{"errors": [{"message": "...", "field": "price" | null}]}` — for domain errors, FastAPI's own
request-validation errors (400, not 422), unknown routes (404), wrong methods (405), an
unreachable database (503) and, as a last resort, anything unexpected (500, logged).
Routers import `error_responses(...)` to document the codes they can answer with.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing_app.api.schemas import ErrorBody
from ticketing_app.errors import DomainError, RateLimited
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    400: "Invalid input or a rule violation",
    401: "Not signed in",
    402: "Card declined",
    403: "Signed in, but not yours",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    429: "Too many attempts",
    503: "A backing service is unavailable",
}
HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


def error_body(message: str, field: str | None = None) -> dict[str, list[dict[str, str | None]]]:
    return {"errors": [{"message": message, "field": field}]}


def error_response(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, field), status_code=status, headers=headers)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error codes a route can answer with."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


def domain_error_response(exc: DomainError) -> JSONResponse:
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(get_settings().ticketing_signin_window_seconds)}
    elif (retry_after := getattr(exc, "retry_after", None)) is not None:
        headers = {"Retry-After": str(retry_after)}
    return error_response(exc.status, exc.message, exc.field, headers)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str | None:
    names = [
        part
        for part in loc
        if isinstance(part, str) and part not in ("query", "path", "body", "header", "cookie")
    ]
    return names[-1] if names else None


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        field = _field_of(err.get("loc", ()))
        msg = str(err.get("msg", "Invalid value"))
        if field:
            if err.get("type") in ("int_parsing", "int_type"):
                msg = f"{field.capitalize()} must be an integer"
            else:
                msg = f"{field.capitalize()}: {msg}"
        errors.append({"message": msg, "field": field})
    return JSONResponse({"errors": errors or error_body("Invalid request")["errors"]}, 400)


def install_error_handlers(api: FastAPI) -> None:
    """Route every error through the SPEC shape; never leak a stack trace."""

    async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return domain_error_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error_response(exc)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
        return error_response(exc.status_code, message, None, getattr(exc, "headers", None))

    async def on_db_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return error_response(503, "The service is temporarily unavailable. Try again shortly.")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Something went wrong on our side")

    api.add_exception_handler(DomainError, on_domain_error)
    api.add_exception_handler(RequestValidationError, on_validation_error)
    api.add_exception_handler(StarletteHTTPException, on_http_error)
    api.add_exception_handler(OperationalError, on_db_down)
    api.add_exception_handler(InterfaceError, on_db_down)
    api.add_exception_handler(Exception, on_unexpected)
