"""Reservations (SPEC §4): reserve a ticket, read and cancel one's own orders."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ticketing_app.api.deps import (
    CurrentUser,
    LateBody,
    LateJsonBody,
    PageLimit,
    PageOffset,
    SessionToken,
    optional_user,
    signed_in_or_401,
)
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import OrderIn, OrderOut, json_body_doc
from ticketing_app.db import get_engine, read_session, write_session
from ticketing_app.errors import ValidationError
from ticketing_app.models import utcnow
from ticketing_app.services import orders
from ticketing_app.services.tickets import MAX_LIMIT
from ticketing_app.services.views import order_view

router = APIRouter(prefix="/api/orders", tags=["orders"])


@router.post(
    "",
    status_code=201,
    response_model=OrderOut,
    responses=error_responses(400, 401, 404, 413),
    openapi_extra=json_body_doc(OrderIn),
    summary="Reserve a ticket: creates an order that holds it until `expiresAt`",
)
async def create_order(token: SessionToken, body: LateJsonBody) -> JSONResponse:
    # The hottest route (a rush on a popular event): the cookie lookup and the reservation run
    # in ONE threadpool call instead of one each (bench/bench_http_reserve.py). The check is
    # the same as CurrentUser's: optional_user, then 401 — before the body's own 400/413.
    return await run_in_threadpool(_reserve, token, body)


def _reserve(token: str | None, body: LateBody) -> JSONResponse:
    user = signed_in_or_401(optional_user(token))
    ticket_id = body.json().get("ticketId")
    if not isinstance(ticket_id, str) or not ticket_id:
        raise ValidationError("Ticket id is required", "ticketId")
    engine = get_engine()  # no ORM session: the reservation runs on Core rows
    result = orders.reserve_ticket(
        engine,
        buyer_id=user.id,
        ticket_id=ticket_id,
        now=utcnow(),
        expected_price=body.json().get("expectedPrice"),
    )
    return JSONResponse(order_view(result.order, result.ticket), status_code=201)


@router.get(
    "",
    response_model=list[OrderOut],
    responses=error_responses(400, 401),
    summary="The caller's orders, newest first; all of them (up to 200) unless `limit` says less",
)
def list_orders(
    user: CurrentUser, limit: PageLimit = MAX_LIMIT, offset: PageOffset = 0
) -> JSONResponse:
    with read_session() as db:
        rows = orders.list_orders(db, user_id=user.id, limit=limit, offset=offset)
    return JSONResponse([order_view(r.order, r.ticket) for r in rows])


@router.get(
    "/{order_id}",
    response_model=OrderOut,
    responses=error_responses(401, 403, 404),
    summary="One of the caller's orders",
)
def get_order(order_id: str, user: CurrentUser) -> JSONResponse:
    with read_session() as db:
        result = orders.get_order(db, user_id=user.id, order_id=order_id)
    return JSONResponse(order_view(result.order, result.ticket))


@router.delete(
    "/{order_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404),
    summary="Cancel the order and release the ticket (no-op if already ended)",
)
def cancel_order(order_id: str, user: CurrentUser) -> Response:
    with write_session() as db:
        orders.cancel_order(db, user_id=user.id, order_id=order_id, now=utcnow())
    return Response(status_code=204)
