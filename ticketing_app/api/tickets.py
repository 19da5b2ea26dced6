"""Listings (SPEC §4): browse and search for anyone; create, edit, cancel for the seller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ticketing_app import readmodel
from ticketing_app.api.caching import public_json, public_response
from ticketing_app.api.deps import CurrentUser, LateJsonBody, PageLimit, PageOffset
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import TicketIn, TicketOut, json_body_doc
from ticketing_app.db import read_session, write_session
from ticketing_app.models import TICKET_STATUSES, TicketStatus, utcnow
from ticketing_app.readmodel import Encoded, encode
from ticketing_app.services import tickets
from ticketing_app.services.views import ticket_view

router = APIRouter(prefix="/api/tickets", tags=["tickets"])

STATUS_VALUES = [*TICKET_STATUSES, "all"]


@router.get(
    "",
    response_model=list[TicketOut],
    responses={
        200: {
            "description": "Tickets, newest first unless `sort` says otherwise",
            "headers": {
                "X-Total-Count": {
                    "description": "How many tickets match, ignoring limit/offset; exact up "
                    "to offset + limit + 1000 (+ 200 with q), beyond that this lower bound",
                    "schema": {"type": "integer"},
                }
            },
        },
        **error_responses(400),
    },
    summary="Browse and search tickets (available ones by default)",
)
async def list_tickets(
    request: Request,
    status: Annotated[
        str, Query(json_schema_extra={"enum": STATUS_VALUES}, description="`all` for any status")
    ] = TicketStatus.AVAILABLE.value,
    q: Annotated[str | None, Query(description="Case-insensitive title search")] = None,
    sort: Annotated[str, Query(json_schema_extra={"enum": list(tickets.SORTS)})] = "newest",
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> Response:
    # The default view's pages within the read model's depth come from memory (on the loop
    # when already built); searches, other sorts and statuses, deeper pages: the database.
    default_view = status == TicketStatus.AVAILABLE and sort == "newest" and not (q and q.strip())
    if default_view and readmodel.enabled():
        tickets.check_page(limit, offset)  # the service's own check, in its order
        if offset + limit <= readmodel.DEPTH:
            return public_response(request, await market_page(limit, offset))
    return public_json(
        request, *await run_in_threadpool(_list_from_db, status, q, sort, limit, offset)
    )


def _list_from_db(
    status: str, q: str | None, sort: str, limit: int, offset: int
) -> tuple[list[dict], int]:
    with read_session() as db:
        page = tickets.list_tickets(db, status=status, q=q, sort=sort, limit=limit, offset=offset)
    return [ticket_view(t) for t in page.items], page.total


async def market_page(limit: int, offset: int) -> Encoded:
    """The encoded page of the market list (newest tickets for sale) from the read model."""
    model = readmodel.get_read_model()
    key = ("encoded", ("tickets", limit, offset))
    found = model.peek(key)
    if found is not None:
        return found

    def build() -> Encoded:
        market = model.market_tickets()
        items = market.items[offset : offset + limit]
        total = min(market.total, offset + limit + tickets.COUNT_AHEAD)
        return encode([ticket_view(t) for t in items], total)

    return await run_in_threadpool(model.encoded, key[1], {readmodel.TICKETS}, build)


@router.post(
    "",
    status_code=201,
    response_model=TicketOut,
    responses=error_responses(400, 401, 413),
    openapi_extra=json_body_doc(TicketIn),
    summary="List a ticket for sale",
)
def create_ticket(user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    data = body.json()  # after the 401
    with write_session() as db:
        ticket = tickets.create_ticket(
            db,
            seller_id=user.id,
            title=data.get("title"),
            price=data.get("price"),
            event_id=data.get("eventId"),
            face_value=data.get("faceValue"),
            now=utcnow(),
        )
    return JSONResponse(ticket_view(ticket), status_code=201)


@router.get(
    "/{ticket_id}",
    response_model=TicketOut,
    responses=error_responses(404),
    summary="One ticket, whatever its status",
)
async def get_ticket(request: Request, ticket_id: str) -> Response:
    if not readmodel.enabled():
        return public_json(request, await run_in_threadpool(_ticket_from_db, ticket_id))
    model = readmodel.get_read_model()
    key = ("ticket", ticket_id)
    found = model.peek(("encoded", key))
    if found is None:
        tags = {readmodel.ticket_tag(ticket_id.lower())}
        found = await run_in_threadpool(
            model.encoded, key, tags, lambda: encode(ticket_view(model.ticket(ticket_id)))
        )
    return public_response(request, found)


def _ticket_from_db(ticket_id: str) -> dict:
    with read_session() as db:
        return ticket_view(tickets.get_ticket(db, ticket_id))


@router.put(
    "/{ticket_id}",
    response_model=TicketOut,
    responses=error_responses(400, 401, 403, 404, 413),
    openapi_extra=json_body_doc(TicketIn),
    summary="Edit title and price (seller only, while available)",
)
def update_ticket(ticket_id: str, user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    # 401, 404, 403, then 400: the service checks title/price after the ticket and its seller;
    # a body that is no JSON object gives it nothing to check, so the route asks first.
    if body.error is not None:
        with read_session() as db:
            tickets.check_owner(db, user_id=user.id, ticket_id=ticket_id)
    data = body.json()  # the body's own 400/413, if any
    with write_session() as db:
        ticket = tickets.update_ticket(
            db,
            user_id=user.id,
            ticket_id=ticket_id,
            title=data.get("title"),
            price=data.get("price"),
            event_id=data.get("eventId", tickets.UNCHANGED),
            face_value=data.get("faceValue", tickets.UNCHANGED),
            now=utcnow(),
        )
    return JSONResponse(ticket_view(ticket))


@router.delete(
    "/{ticket_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404),
    summary="Cancel the listing (seller only, while available)",
)
def cancel_ticket(ticket_id: str, user: CurrentUser) -> Response:
    with write_session() as db:
        tickets.cancel_ticket(db, user_id=user.id, ticket_id=ticket_id, now=utcnow())
    return Response(status_code=204)
