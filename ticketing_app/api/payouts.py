"""Seller balances and payouts, and the operators' payout queue (SPEC §12;
services/payouts.py). Every route checks the session on the server: the seller's routes
need a signed-in user (401), the /api/admin ones an operator (401 / 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ticketing_app.api.deps import (
    CurrentUser,
    LateJsonBody,
    PageLimit,
    PageOffset,
    require_operator,
)
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import (
    BalanceOut,
    Empty,
    LedgerEntryOut,
    PayoutOut,
    PayoutPaidIn,
    json_body_doc,
)
from ticketing_app.db import read_session, write_session
from ticketing_app.models import utcnow
from ticketing_app.services import auth, payouts
from ticketing_app.services.tickets import MAX_LIMIT

router = APIRouter(tags=["payouts"])
Operator = Annotated[auth.SignedIn, Depends(require_operator)]


@router.get(
    "/api/balance",
    response_model=BalanceOut,
    responses=error_responses(401),
    summary="My seller balance by state, derived from my ledger",
)
def get_balance(user: CurrentUser) -> JSONResponse:
    with read_session() as db:
        balance = payouts.get_balance(db, seller_id=user.id)
    return JSONResponse(payouts.balance_view(balance))


@router.get(
    "/api/balance/entries",
    response_model=list[LedgerEntryOut],
    responses=error_responses(400, 401),
    summary="My ledger lines, newest first",
)
def list_entries(
    user: CurrentUser, limit: PageLimit = MAX_LIMIT, offset: PageOffset = 0
) -> JSONResponse:
    with read_session() as db:
        rows = payouts.list_entries(db, seller_id=user.id, limit=limit, offset=offset)
    return JSONResponse(rows)


@router.post(
    "/api/payouts",
    status_code=201,
    response_model=PayoutOut,
    responses=error_responses(400, 401, 403, 413),
    openapi_extra=json_body_doc(Empty),
    summary="Request a payout of my whole available balance (400 when nothing is available)",
)
def request_payout(user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    body.json()  # `{}`; a bad body is a 400 (and another site's form a 403) before anything
    with write_session() as db:
        payout = payouts.request_payout(db, seller_id=user.id, now=utcnow())
    return JSONResponse(payouts.payout_view(payout), status_code=201)


@router.get(
    "/api/payouts",
    response_model=list[PayoutOut],
    responses=error_responses(401),
    summary="My payouts, newest first",
)
def list_payouts(user: CurrentUser) -> JSONResponse:
    with read_session() as db:
        rows = payouts.list_payouts(db, seller_id=user.id)
    return JSONResponse([payouts.payout_view(p) for p in rows])


@router.post(
    "/api/admin/payouts/{payout_id}/paid",
    response_model=PayoutOut,
    responses=error_responses(400, 401, 403, 404, 413),
    openapi_extra=json_body_doc(PayoutPaidIn),
    summary="Operators: mark a requested payout paid with the external payment's reference",
)
def mark_paid(payout_id: str, operator: Operator, body: LateJsonBody) -> JSONResponse:
    data = body.json()
    with write_session() as db:
        payout = payouts.mark_paid(
            db,
            operator=operator,
            payout_id=payout_id,
            reference=data.get("reference"),
            now=utcnow(),
        )
    return JSONResponse(payouts.payout_view(payout))


@router.get(
    "/api/admin/payouts.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **error_responses(401, 403),
    },
    summary="Operators: the payout queue as CSV (header row; requested first)",
)
def payouts_csv(operator: Operator) -> Response:
    with read_session() as db:
        queued = payouts.payout_queue(db, operator=operator)
    return Response(
        payouts.queue_csv(queued),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="payouts.csv"'},
    )
