"""Watches and in-app notifications (SPEC §11; services/watches.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ticketing_app.api.deps import CurrentUser, LateJsonBody, refuse_cross_site
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import json_body_doc
from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import watches

router = APIRouter(tags=["watches"])


class WatchIn(BaseModel):
    maxPrice: float | None = Field(default=None, gt=0, le=1_000_000)  # noqa: N815


class WatchOut(BaseModel):
    eventId: str  # noqa: N815
    eventName: str  # noqa: N815
    maxPrice: float | None  # noqa: N815
    createdAt: str  # noqa: N815


class NotificationOut(BaseModel):
    id: str
    kind: str
    text: str
    link: str
    createdAt: str  # noqa: N815
    read: bool


@router.post(
    "/api/events/{event_id}/watch",
    status_code=201,
    response_model=WatchOut,
    responses=error_responses(400, 401, 403, 404, 413),
    openapi_extra=json_body_doc(WatchIn),
    summary="Be told (email + in-app) when a ticket for this event is listed, optionally "
    "up to maxPrice; again to change maxPrice",
)
def watch(event_id: str, user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    data = body.json()  # `{}`: no maximum
    with write_session() as db:
        view = watches.watch_event(
            db, user_id=user.id, event_id=event_id, max_price=data.get("maxPrice"), now=utcnow()
        )
    return JSONResponse(view, status_code=201)


@router.delete(
    "/api/events/{event_id}/watch",
    status_code=204,
    responses=error_responses(401, 403, 404),
    summary="Stop watching the event (204 also when not watching)",
)
def unwatch(event_id: str, user: CurrentUser, request: Request) -> Response:
    refuse_cross_site(request)
    with write_session() as db:
        watches.unwatch_event(db, user_id=user.id, event_id=event_id)
    return Response(status_code=204)


@router.get(
    "/api/watches",
    response_model=list[WatchOut],
    responses=error_responses(401),
    summary="The events I watch, newest first",
)
def list_watches(user: CurrentUser) -> JSONResponse:
    with write_session() as db:
        return JSONResponse(watches.list_watches(db, user_id=user.id))


@router.get(
    "/api/notifications",
    response_model=list[NotificationOut],
    responses=error_responses(401),
    summary="My in-app notifications, newest first (the unread count is in X-Unread-Count)",
)
def list_notifications(user: CurrentUser) -> JSONResponse:
    with write_session() as db:
        items, unread = watches.notifications_page(db, user_id=user.id)
    return JSONResponse(items, headers={"X-Unread-Count": str(unread)})


@router.post(
    "/api/notifications/read",
    response_model=dict,
    responses=error_responses(401, 403),
    summary="Mark all my notifications read",
)
def mark_read(user: CurrentUser, request: Request) -> JSONResponse:
    refuse_cross_site(request)
    with write_session() as db:
        count = watches.mark_all_read(db, user_id=user.id, now=utcnow())
    return JSONResponse({"marked": count})
