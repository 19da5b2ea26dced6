"""OpenAPI documentation of request and response bodies (SPEC §4 JSON shapes).

Routes read bodies as raw JSON and let the services validate them (one set of rules and
messages); these models only describe the contract in `/api/openapi.json`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ticketing_app import models

# The statuses' JSON values, from the one definition in models.py.
TicketStatus = Literal[tuple(s.value for s in models.TicketStatus)]  # type: ignore[valid-type]
OrderStatus = Literal[tuple(s.value for s in models.OrderStatus)]  # type: ignore[valid-type]
ChargeStatus = Literal[tuple(s.value for s in models.ChargeStatus)]  # type: ignore[valid-type]
Price = Field(gt=0, le=1_000_000, multiple_of=0.01, description="Decimal major units, e.g. 19.99")
Timestamp = Field(json_schema_extra={"format": "date-time"}, description="ISO 8601 UTC with Z")


class ErrorItem(BaseModel):
    message: str
    field: str | None


class ErrorBody(BaseModel):
    errors: list[ErrorItem] = Field(min_length=1)


class Credentials(BaseModel):
    email: str = Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="An email address (stored lower-case)",
    )
    password: str = Field(min_length=8, max_length=128)


class UserOut(BaseModel):
    id: str
    email: str


class CurrentUserOut(BaseModel):
    currentUser: UserOut | None  # noqa: N815 - SPEC's JSON name


class Empty(BaseModel):
    pass


class TicketIn(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    price: float = Price
    eventId: str | None = Field(  # noqa: N815
        default=None,
        description="The event the ticket is for (SPEC §9); on PUT, leaving it out keeps it",
    )
    faceValue: float | None = Field(  # noqa: N815
        default=None,
        gt=0,
        le=1_000_000,
        multiple_of=0.01,
        description="The price printed on the ticket; caps the price "
        "(TICKETING_PRICE_CAP_PERCENT, 120 % by default)",
    )


class TicketOut(BaseModel):
    id: str
    title: str
    price: float
    userId: str  # noqa: N815
    orderId: str | None  # noqa: N815
    status: TicketStatus
    version: int
    createdAt: str = Timestamp  # noqa: N815
    updatedAt: str = Timestamp  # noqa: N815
    eventId: str | None  # noqa: N815
    faceValue: float | None  # noqa: N815
    hasFile: bool  # noqa: N815
    withdrawnReason: str | None = Field(  # noqa: N815
        description="Why the listing left the market without its seller cancelling it"
    )


EventStatus = Literal["scheduled", "cancelled"]


class EventIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    venue: str = Field(min_length=1, max_length=120)
    city: str = Field(min_length=1, max_length=80)
    startsAt: str = Field(  # noqa: N815
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 with a time zone; in the future, at most two years ahead",
    )


class EventOut(BaseModel):
    id: str
    name: str
    venue: str
    city: str
    startsAt: str = Timestamp  # noqa: N815
    status: EventStatus
    ticketsAvailable: int = Field(ge=0)  # noqa: N815
    lowestPrice: float | None = Field(description="Cheapest available ticket; null: none")  # noqa: N815


class OrderIn(BaseModel):
    ticketId: str = Field(description="Id of an available ticket")  # noqa: N815
    expectedPrice: float | None = Field(  # noqa: N815
        default=None,
        gt=0,
        le=1_000_000,
        multiple_of=0.01,
        description="The price the buyer saw; if the ticket now costs anything else, 400 "
        "naming the new price and nothing is reserved",
    )


class OrderTicketOut(BaseModel):
    id: str
    title: str
    price: float
    hasFile: bool  # noqa: N815


class ETicketOut(BaseModel):
    code: str = Field(description="The verification code (at least 128 random bits)")
    url: str = Field(description="PUBLIC_URL/verify/<code>: what the QR code on the PDF says")


class VerifyEventOut(BaseModel):
    name: str
    venue: str
    startsAt: str = Timestamp  # noqa: N815


class VerifyOut(BaseModel):
    valid: Literal[True]
    title: str
    event: VerifyEventOut | None
    holder: str = Field(description="The buyer's email, masked: a***@example.com")


class OrderOut(BaseModel):
    id: str
    userId: str  # noqa: N815
    status: OrderStatus
    price: float = Field(description="The ticket's price when the order was created")
    fee: float = Field(ge=0, description="The buyer fee on top of the price (SPEC §12)")
    total: float = Field(
        gt=0, description="price + fee: what the buyer pays, the charge's amount, the refund"
    )
    expiresAt: str = Timestamp  # noqa: N815
    createdAt: str = Timestamp  # noqa: N815
    ticket: OrderTicketOut
    eTicket: ETicketOut | None = Field(  # noqa: N815
        description="Once the order is complete (null before, and after a refund)"
    )


class ChargeOut(BaseModel):
    id: str
    orderId: str  # noqa: N815
    status: ChargeStatus
    amount: float
    stripeId: str | None  # noqa: N815
    stripeRefundId: str | None  # noqa: N815


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    db: bool
    redis: bool | None = Field(default=None, description="Present when REDIS_URL is set")
    nats: bool | None = Field(default=None, description="Present when NATS_URL is set")
    errors: list[ErrorItem] | None = Field(default=None, description="Present when not ok")


# For routes that work with or without the cookie (OpenAPI: `{}` = no credentials needed).
OPTIONAL_AUTH: dict[str, Any] = {"security": [{}, {"APIKeyCookie": []}]}


def json_body_doc(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


class PasswordChangeIn(BaseModel):
    currentPassword: str = Field(min_length=1, max_length=1024)  # noqa: N815 (JSON name)
    newPassword: str = Field(min_length=8, max_length=128)  # noqa: N815


class EmailChangeIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024)
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=256)


class ResetRequestIn(BaseModel):
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ResetConfirmIn(BaseModel):
    token: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=8, max_length=128)


class EmailChangeOut(BaseModel):
    id: str
    email: str
    pendingEmail: str  # noqa: N815


class ReasonIn(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why (recorded in the audit log; the people affected are shown it)",
    )


class EventEditIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    venue: str | None = Field(default=None, min_length=1, max_length=120)
    city: str | None = Field(default=None, min_length=1, max_length=80)
    startsAt: str | None = Field(  # noqa: N815
        default=None,
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 with a time zone; in the future, at most two years ahead",
    )


class AdminUserOut(BaseModel):
    id: str
    email: str
    isOperator: bool  # noqa: N815
    suspended: bool
    suspendedAt: str | None = Timestamp  # noqa: N815
    createdAt: str = Timestamp  # noqa: N815


class AdminChargeOut(BaseModel):
    status: ChargeStatus
    amount: float
    stripeRefundId: str | None  # noqa: N815


class AdminOrderOut(BaseModel):
    id: str
    status: OrderStatus
    price: float
    buyerId: str  # noqa: N815
    buyerEmail: str  # noqa: N815
    ticketId: str  # noqa: N815
    ticketTitle: str  # noqa: N815
    charge: AdminChargeOut | None = Field(description="The settled charge (succeeded/refunded)")
    createdAt: str = Timestamp  # noqa: N815
    updatedAt: str = Timestamp  # noqa: N815


class AuditEntryOut(BaseModel):
    id: int
    operatorId: str  # noqa: N815
    operatorEmail: str  # noqa: N815
    action: str = Field(description="e.g. user.suspend, ticket.withdraw, event.cancel")
    targetType: str  # noqa: N815
    targetId: str  # noqa: N815
    reason: str
    details: dict[str, Any]
    createdAt: str = Timestamp  # noqa: N815


class DomainEventOut(BaseModel):
    seq: int
    id: str
    type: str
    aggregateType: str  # noqa: N815
    aggregateId: str  # noqa: N815
    aggregateVersion: int  # noqa: N815
    payload: dict[str, Any]
    createdAt: str = Timestamp  # noqa: N815
    publishedAt: str | None = Timestamp  # noqa: N815


class BalanceOut(BaseModel):
    currency: str = Field(description="The deployment's one currency (ISO 4217)")
    pending: float = Field(description="Proceeds of sales whose event is less than 48 h past")
    available: float = Field(
        description="What a payout request would pay out (below 0 after a refund of money "
        "already paid out: later sales settle it first)"
    )
    inPayout: float = Field(description="Requested, not yet paid")  # noqa: N815
    paidOut: float  # noqa: N815


LedgerKindOut = Literal[tuple(s.value for s in models.LedgerKind)]  # type: ignore[valid-type]
LedgerBucketOut = Literal[tuple(s.value for s in models.LedgerBucket)]  # type: ignore[valid-type]
PayoutStatusOut = Literal[tuple(s.value for s in models.PayoutStatus)]  # type: ignore[valid-type]


class LedgerEntryOut(BaseModel):
    id: int
    kind: LedgerKindOut
    bucket: LedgerBucketOut
    amount: float = Field(description="Signed: + into the bucket, − out of it")
    currency: str
    orderId: str | None  # noqa: N815
    payoutId: str | None  # noqa: N815
    ticketTitle: str | None  # noqa: N815
    createdAt: str = Timestamp  # noqa: N815


class PayoutOut(BaseModel):
    id: str
    sellerId: str  # noqa: N815
    amount: float = Field(gt=0)
    currency: str
    status: PayoutStatusOut
    reference: str | None = Field(description="The external payment's reference, once paid")
    createdAt: str = Timestamp  # noqa: N815
    paidAt: str | None = Field(json_schema_extra={"format": "date-time"})  # noqa: N815


class PayoutPaidIn(BaseModel):
    reference: str = Field(
        min_length=1, max_length=200, description="The bank transfer's (or other) reference"
    )
