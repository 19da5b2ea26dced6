"""Operators' REST routes (SPEC §12): suspend/reinstate a user, withdraw a listing, edit and
cancel an event, refund an order, the audit log and the domain-event feed.

Every route depends on `require_operator` (401 signed out, 403 anyone else) before it reads
its body or path; each calls one service (services/admin.py, services/admin_reads.py), which
checks the role again and writes the audit row in the change's own transaction. The payout
queue's routes (/api/admin/payouts*) live with the money work, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import LateJsonBody, PageLimit, PageOffset, require_operator
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import (
    AdminOrderOut,
    AdminUserOut,
    AuditEntryOut,
    DomainEventOut,
    EventEditIn,
    EventOut,
    ReasonIn,
    TicketOut,
    json_body_doc,
)
from ticketing_app.db import read_session, write_session
from ticketing_app.models import utcnow
from ticketing_app.services import admin, admin_events, admin_reads, events
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.views import ticket_view

router = APIRouter(prefix="/api/admin", tags=["admin"])
Operator = Annotated[SignedIn, Depends(require_operator)]
ACTION_ERRORS = error_responses(400, 401, 403, 404, 413)


def _reason(body: Any) -> Any:
    return body.json().get("reason")


@router.get(
    "/users",
    response_model=list[AdminUserOut],
    responses=error_responses(400, 401, 403),
    summary="Users whose email contains `q`, newest first (operators only)",
)
def list_users(
    operator: Operator, q: str | None = None, limit: PageLimit = 50, offset: PageOffset = 0
) -> JSONResponse:
    with read_session() as db:
        rows = admin_reads.search_users(db, operator=operator, q=q, limit=limit, offset=offset)
    return JSONResponse(rows)


@router.post(
    "/users/{user_id}/suspend",
    response_model=AdminUserOut,
    responses=ACTION_ERRORS,
    openapi_extra=json_body_doc(ReasonIn),
    summary="Suspend a user: sessions revoked, listings withdrawn, reservations cancelled, "
    "no sign-in",
)
def suspend_user(user_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    with write_session() as db:
        user = admin.suspend_user(
            db, operator=operator, user_id=user_id, reason=_reason(body), now=utcnow()
        )
    return JSONResponse(admin_reads.admin_user_view(user))


@router.post(
    "/users/{user_id}/reinstate",
    response_model=AdminUserOut,
    responses=ACTION_ERRORS,
    openapi_extra=json_body_doc(ReasonIn),
    summary="Lift a user's suspension (withdrawn listings stay withdrawn)",
)
def reinstate_user(user_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    with write_session() as db:
        user = admin.reinstate_user(
            db, operator=operator, user_id=user_id, reason=_reason(body), now=utcnow()
        )
    return JSONResponse(admin_reads.admin_user_view(user))


@router.post(
    "/tickets/{ticket_id}/withdraw",
    response_model=TicketOut,
    responses=ACTION_ERRORS,
    openapi_extra=json_body_doc(ReasonIn),
    summary="Withdraw a listing; the seller is told the reason (a reservation of it is "
    "cancelled first; 400 for a sold ticket)",
)
def withdraw_ticket(ticket_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    with write_session() as db:
        ticket = admin.withdraw_listing(
            db, operator=operator, ticket_id=ticket_id, reason=_reason(body), now=utcnow()
        )
    return JSONResponse(ticket_view(ticket))


def _event_json(event_id: str) -> JSONResponse:
    with read_session() as db:
        return JSONResponse(events.get_event(db, event_id).view())


@router.patch(
    "/events/{event_id}",
    response_model=EventOut,
    responses=ACTION_ERRORS,
    openapi_extra=json_body_doc(EventEditIn),
    summary="Edit an upcoming event (name, venue, city, startsAt; omitted fields stay)",
)
def edit_event(event_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    data = body.json()
    with write_session() as db:
        event = admin_events.edit_event(
            db,
            operator=operator,
            event_id=event_id,
            reason=data.get("reason"),
            name=data.get("name"),
            venue=data.get("venue"),
            city=data.get("city"),
            starts_at=data.get("startsAt"),
            now=utcnow(),
        )
    return _event_json(event.id)


@router.post(
    "/events/{event_id}/cancel",
    response_model=EventOut,
    responses=ACTION_ERRORS,
    openapi_extra=json_body_doc(ReasonIn),
    summary="Cancel an event: listings withdrawn, reservations cancelled, sales refunded in "
    "full through Stripe exactly once, everyone told",
)
def cancel_event(event_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    with write_session() as db:
        event = admin_events.cancel_event(
            db, operator=operator, event_id=event_id, reason=_reason(body), now=utcnow()
        )
    return _event_json(event.id)


@router.post(
    "/orders/{order_id}/refund",
    response_model=AdminOrderOut,
    responses=ACTION_ERRORS,
    openapi_extra=json_body_doc(ReasonIn),
    summary="Refund a completed order in full (e-ticket revoked, ticket off the market)",
)
def refund_order(order_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    with write_session() as db:
        order = admin.refund_order(
            db, operator=operator, order_id=order_id, reason=_reason(body), now=utcnow()
        )
        view = admin_reads.order_for_operator(db, operator=operator, order_id=order.id)
    return JSONResponse(view)


@router.get(
    "/audit",
    response_model=list[AuditEntryOut],
    responses=error_responses(400, 401, 403),
    summary="The audit log of operator actions, newest first",
)
def audit(
    operator: Operator,
    target_type: Annotated[str | None, Query(alias="targetType")] = None,
    target_id: Annotated[str | None, Query(alias="targetId")] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> JSONResponse:
    with read_session() as db:
        rows = admin_reads.audit_log(
            db,
            operator=operator,
            target_type=target_type,
            target_id=target_id,
            limit=limit,
            offset=offset,
        )
    return JSONResponse(rows)


@router.get(
    "/domain-events",
    response_model=list[DomainEventOut],
    responses=error_responses(400, 401, 403),
    summary="The domain-event feed (the outbox), newest first",
)
def domain_events(
    operator: Operator,
    type: str | None = None,
    aggregate_type: Annotated[str | None, Query(alias="aggregateType")] = None,
    aggregate_id: Annotated[str | None, Query(alias="aggregateId")] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> JSONResponse:
    with read_session() as db:
        rows = admin_reads.domain_events(
            db,
            operator=operator,
            type=type,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            limit=limit,
            offset=offset,
        )
    return JSONResponse(rows)
