"""Payments (SPEC §4): pay an order with a Stripe PaymentMethod id, and Stripe's webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ticketing_app.api.deps import CurrentUser, LateJsonBody
from ticketing_app.api.errors import domain_error_response, error_response, error_responses
from ticketing_app.api.schemas import ChargeOut, json_body_doc
from ticketing_app.db import write_session
from ticketing_app.errors import DomainError, ValidationError
from ticketing_app.models import utcnow
from ticketing_app.services import payments
from ticketing_app.services.views import charge_view

router = APIRouter(tags=["payments"])

MAX_WEBHOOK_BYTES = 512 * 1024


class PaymentIn(BaseModel):
    token: str = Field(
        description="A Stripe PaymentMethod id, e.g. pm_card_visa (pm_card_chargeCustomerFail "
        "is declined in test mode)"
    )
    orderId: str = Field(description="Id of the caller's order in status created")  # noqa: N815


class WebhookAck(BaseModel):
    received: bool
    outcome: str


@router.post(
    "/api/payments",
    status_code=201,
    response_model=ChargeOut,
    responses=error_responses(400, 401, 402, 403, 404, 413, 503),
    openapi_extra=json_body_doc(PaymentIn),
    summary="Pay an order by card; 402 with Stripe's message when the card is declined",
)
def create_payment(user: CurrentUser, body: LateJsonBody) -> JSONResponse:
    data = body.json()  # after the 401; without a readable body there is no order to look up
    order_id = data.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise ValidationError("Order id is required", "orderId")
    with write_session() as db:
        charge = payments.pay_order(  # 404, 403 for the order before a bad token's 400
            db,
            buyer_id=user.id,
            order_id=order_id,
            payment_method=data.get("token"),
            now=utcnow(),
        )
    return JSONResponse(charge_view(charge), status_code=201)


def _handle_webhook(payload: bytes, signature: str | None) -> str:
    with write_session() as db:
        return payments.handle_webhook(db, payload=payload, signature=signature, now=utcnow())


@router.post(
    "/api/webhooks/stripe",
    response_model=WebhookAck,
    responses=error_responses(400, 413, 503),
    summary="Stripe events (signature-verified; a redelivered event changes nothing)",
)
async def stripe_webhook(request: Request) -> JSONResponse:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return error_response(413, "Event too large")
    payload = await request.body()  # the raw bytes: the signature covers them exactly
    if len(payload) > MAX_WEBHOOK_BYTES:
        return error_response(413, "Event too large")
    signature = request.headers.get("stripe-signature")
    try:
        outcome = await run_in_threadpool(_handle_webhook, payload, signature)
    except DomainError as exc:  # 400 bad signature, 503 retry later: Stripe redelivers non-2xx
        return domain_error_response(exc)
    return JSONResponse({"received": True, "outcome": outcome})
