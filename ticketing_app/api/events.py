"""Events (SPEC §9): create-or-get for signed-in users; upcoming events, one event and its
tickets, cheapest first, for anyone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import CurrentUser, LateJsonBody, PageLimit, PageOffset
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import EventIn, EventOut, TicketOut, json_body_doc
from ticketing_app.db import read_session, write_session
from ticketing_app.models import utcnow
from ticketing_app.services import events
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
def list_events(
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
) -> JSONResponse:
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
    return JSONResponse(
        [summary.view() for summary in page.items], headers={"X-Total-Count": str(page.total)}
    )


@router.get(
    "/{event_id}",
    response_model=EventOut,
    responses=error_responses(404),
    summary="One event, whatever its status",
)
def get_event(event_id: str) -> JSONResponse:
    with read_session() as db:
        summary = events.get_event(db, event_id)
    return JSONResponse(summary.view())


@router.get(
    "/{event_id}/tickets",
    response_model=list[TicketOut],
    responses=error_responses(400, 404),
    summary="The event's available tickets, cheapest first",
)
def event_tickets(event_id: str, limit: PageLimit = 50, offset: PageOffset = 0) -> JSONResponse:
    with read_session() as db:
        _summary, items = events.event_tickets(db, event_id, limit=limit, offset=offset)
    return JSONResponse([ticket_view(t) for t in items])
