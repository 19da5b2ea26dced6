"""Events (SPEC §9): create-or-get for signed-in users; upcoming events, one event and its
tickets, cheapest first, for anyone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ticketing_app import readmodel
from ticketing_app.api.caching import public_json, public_response
from ticketing_app.api.deps import CurrentUser, LateJsonBody, PageLimit, PageOffset
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import EventIn, EventOut, TicketOut, json_body_doc
from ticketing_app.db import read_session, write_session
from ticketing_app.models import utcnow
from ticketing_app.readmodel import Encoded, encode
from ticketing_app.services import events
from ticketing_app.services.tickets import check_page
from ticketing_app.services.views import ticket_view

router = APIRouter(prefix="/api/events", tags=["events"])

TIME_FILTER = "ISO 8601 date-time with a time zone, or a date (its midnight UTC)"


@router.post(
    "",
    status_code=201,
    response_model=EventOut,
    responses={
        200: {"model": EventOut, "description": "The event already existed (same name, venue "
              "and start, compared case- and whitespace-insensitively)"},
        **error_responses(400, 401, 413),
    },
    openapi_extra=json_body_doc(EventIn),
    summary="Create an event, or get the existing one",
)  # fmt: skip
def create_event(user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    data = body.json()  # after the 401
    with write_session() as db:
        result = events.create_event(
            db,
            user_id=user.id,
            name=data.get("name"),
            venue=data.get("venue"),
            city=data.get("city"),
            starts_at=data.get("startsAt"),
            now=utcnow(),
        )
    return JSONResponse(result.summary.view(), status_code=201 if result.created else 200)


@router.get(
    "",
    response_model=list[EventOut],
    responses={
        200: {
            "description": "Upcoming scheduled events, soonest first",
            "headers": {
                "X-Total-Count": {
                    "description": "How many events match, ignoring limit/offset; exact up "
                    "to offset + limit + 1000, beyond that this lower bound",
                    "schema": {"type": "integer"},
                }
            },
        },
        **error_responses(400),
    },
    summary="Upcoming events with tickets available and the lowest price",
)
async def list_events(
    request: Request,
    q: Annotated[str | None, Query(description="Matches name, venue or city")] = None,
    city: Annotated[str | None, Query(description="City, case-insensitive")] = None,
    starts_from: Annotated[
        str | None, Query(alias="from", description=f"Starts at or after; {TIME_FILTER}")
    ] = None,
    starts_before: Annotated[
        str | None, Query(alias="to", description=f"Starts before; {TIME_FILTER}")
    ] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> Response:
    check_page(limit, offset)
    filtered = any(v and v.strip() for v in (q, city, starts_from, starts_before))
    if not filtered and offset + limit <= readmodel.DEPTH and readmodel.enabled():
        return public_response(request, await _upcoming_page(limit, offset))
    content, total = await run_in_threadpool(
        _events_from_db, q, city, starts_from, starts_before, limit, offset
    )
    return public_json(request, content, total)


def _events_from_db(
    q: str | None,
    city: str | None,
    starts_from: str | None,
    starts_before: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    with read_session() as db:
        page = events.list_events(
            db,
            now=utcnow(),
            q=q,
            city=city,
            starts_from=starts_from,
            starts_before=starts_before,
            limit=limit,
            offset=offset,
        )
    return [summary.view() for summary in page.items], page.total


async def _upcoming_page(limit: int, offset: int) -> Encoded:
    model = readmodel.get_read_model()
    key = ("events", limit, offset)
    found = model.peek(("encoded", key))
    if found is not None:
        return found

    def build() -> Encoded:
        upcoming = model.upcoming_events()
        items = upcoming.items[offset : offset + limit]
        total = min(upcoming.total, offset + limit + events.COUNT_AHEAD)
        return encode([summary.view() for summary in items], total)

    def until(_encoded: Encoded):  # the list's own validity: until its first event starts
        upcoming = model.upcoming_events()
        return upcoming.items[0].event.starts_at if upcoming.items else None

    return await run_in_threadpool(model.encoded, key, {readmodel.EVENTS}, build, until)


@router.get(
    "/{event_id}",
    response_model=EventOut,
    responses=error_responses(404),
    summary="One event, whatever its status",
)
async def get_event(request: Request, event_id: str) -> Response:
    if not readmodel.enabled():
        return public_json(request, await run_in_threadpool(_event_from_db, event_id))
    model = readmodel.get_read_model()
    key = ("event", event_id)
    found = model.peek(("encoded", key))
    if found is None:
        tags = {readmodel.event_tag(event_id.lower())}
        found = await run_in_threadpool(
            model.encoded, key, tags, lambda: encode(model.event(event_id).view())
        )
    return public_response(request, found)


def _event_from_db(event_id: str) -> dict:
    with read_session() as db:
        return events.get_event(db, event_id).view()


@router.get(
    "/{event_id}/tickets",
    response_model=list[TicketOut],
    responses=error_responses(400, 404),
    summary="The event's available tickets, cheapest first",
)
async def event_tickets(
    request: Request, event_id: str, limit: PageLimit = 50, offset: PageOffset = 0
) -> Response:
    check_page(limit, offset)
    if offset + limit > readmodel.DEPTH or not readmodel.enabled():
        content = await run_in_threadpool(_event_tickets_from_db, event_id, limit, offset)
        return public_json(request, content)
    model = readmodel.get_read_model()
    key = ("event-tickets", event_id, limit, offset)
    found = model.peek(("encoded", key))
    if found is None:

        def build() -> Encoded:
            items = model.event_tickets(event_id).items[offset : offset + limit]
            return encode([ticket_view(t) for t in items])

        tags = {readmodel.event_tag(event_id.lower())}
        found = await run_in_threadpool(model.encoded, key, tags, build)
    return public_response(request, found)


def _event_tickets_from_db(event_id: str, limit: int, offset: int) -> list[dict]:
    with read_session() as db:
        _summary, items = events.event_tickets(db, event_id, limit=limit, offset=offset)
    return [ticket_view(t) for t in items]
