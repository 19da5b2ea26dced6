"""settle_payment: the one place where a PaymentIntent's outcome reaches the database.

The API, the webhook, the order page and the expiry clean-up all call it, any number of times,
concurrently: it retrieves the PaymentIntent from Stripe (never trusting a caller's word) and
applies the outcome exactly once. Races are decided in SQL:
- a succeeded intent becomes at most one succeeded/refunded Charge (partial unique index
  `uq_charges_settled_intent`; the loser's INSERT fails and it re-reads the winner's result);
- the order completes only by `UPDATE … WHERE status='created'` and the ticket is sold only by
  `UPDATE … WHERE order_id=:order AND status='reserved'`, both checked by row count;
- a decline counts once per intent by `UPDATE orders … WHERE payment_intent_id=:intent`.
No transaction is open while Stripe is called. A refund is claimed (Charge `succeeded` on an
order it did not complete) before Stripe is asked, and marked `refunded` after; a claim left
behind by a crash is taken over after REFUND_LEASE by whoever settles the intent next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.errors import ServiceUnavailable
from ticketing_app.models import (
    SETTLED_CHARGE_STATUSES,
    Charge,
    ChargeStatus,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
)
from ticketing_app.services import messages, transitions
from ticketing_app.services import stripe_gateway as gateway
from ticketing_app.services.transitions import Moved
from ticketing_app.services.validation import is_uuid
from ticketing_app.services.views import charge_view

log = logging.getLogger(__name__)

REFUNDED_MESSAGE = "Your payment was refunded because the reservation had ended"
REFUND_PENDING_MESSAGE = "Your payment is being refunded because the reservation had ended"
AMOUNT_MISMATCH_MESSAGE = "Your payment was refunded because its amount did not match the order"
REFUNDED_IN_FULL_MESSAGE = "Your payment was refunded in full"
REFUND_IN_FULL_PENDING_MESSAGE = "Your payment is being refunded in full"
MAX_FAILED_ATTEMPTS = 3
REFUND_LEASE = timedelta(seconds=60)
_ATTEMPTS = 5

Outcome = Literal["paid", "refunded", "refund_pending", "declined", "pending", "ignored"]


@dataclass(frozen=True)
class Settlement:
    """What settling an intent amounted to; `message` is for the buyer."""

    outcome: Outcome
    order_id: str | None = None
    charge: Charge | None = None
    message: str | None = None
    order_cancelled: bool = False
    intent_status: str | None = None

    def decline_message(self) -> str:
        """What the buyer is told about a declined card (and a third decline's cancel)."""
        return messages.declined(
            self.message, order_cancelled=self.order_cancelled, attempts=MAX_FAILED_ATTEMPTS
        )


@dataclass
class _Claim:
    settlement: Settlement
    refund_owner: bool = False


def record_charge_event(
    db: Session, type: str, charge: Charge, order: Order, now: datetime, **extra: Any
) -> None:
    outbox.record(
        db,
        type=type,
        aggregate_type="charge",
        aggregate_id=charge.id,
        aggregate_version=charge.version,
        payload={**charge_view(charge), "userId": order.user_id, **extra},
        now=now,
    )


def settle_payment(db: Session, *, payment_intent_id: str, now: datetime) -> Settlement:
    """Retrieve the PaymentIntent from Stripe and apply its outcome (idempotent)."""
    return settle_intent(db, intent=gateway.retrieve_intent(payment_intent_id), now=now)


def settle_intent(db: Session, *, intent: gateway.Intent, now: datetime) -> Settlement:
    """Apply an intent that was just read FROM STRIPE (never one described by a browser)."""
    if not intent.order_id or not is_uuid(intent.order_id):
        return Settlement("ignored", intent_status=intent.status)
    if intent.status == "succeeded":
        return _settle_success(db, intent, now)
    if intent.declined:
        return _settle_decline(db, intent, now)
    if intent.status == "canceled":
        return Settlement("ignored", intent.order_id, intent_status=intent.status)
    return Settlement("pending", intent.order_id, intent_status=intent.status)


def _retrying(db: Session, step: Any, *args: Any) -> Any:
    for _ in range(_ATTEMPTS):
        try:
            with db.begin():
                return step(db, *args)
        except (Moved, IntegrityError):
            continue
    raise ServiceUnavailable("The payment could not be recorded. Try again shortly.")


def _settled_charge(db: Session, intent_id: str) -> Charge | None:
    return db.exec(
        select(Charge)
        .where(Charge.stripe_id == intent_id, Charge.status.in_(SETTLED_CHARGE_STATUSES))
        .execution_options(populate_existing=True)
    ).first()


def _refund_message(order: Order, intent: gateway.Intent) -> str:
    return _refund_message_for(order, intent.amount)


def _refund_message_for(order: Order, amount_cents: int) -> str:
    if is_refunded_sale(order):
        return REFUNDED_IN_FULL_MESSAGE
    return AMOUNT_MISMATCH_MESSAGE if amount_cents != order.total_cents else REFUNDED_MESSAGE


def _settle_success(db: Session, intent: gateway.Intent, now: datetime) -> Settlement:
    claim: _Claim = _retrying(db, _success_txn, intent, now)
    if not claim.refund_owner:
        return claim.settlement
    try:
        return _refund(db, claim.settlement, intent, now)
    except gateway.GatewayUnavailable as exc:  # retried: webhook redelivery, upkeep sweep
        log.warning("refund of %s deferred: %s", intent.id, exc)
        return claim.settlement


def _success_txn(db: Session, intent: gateway.Intent, now: datetime) -> _Claim:
    # The charge first: if it is visible, so is everything its transaction changed (READ
    # COMMITTED reads each statement's own snapshot).
    charge = _settled_charge(db, intent.id)
    order = db.get(Order, intent.order_id, populate_existing=True)
    if order is None:
        return _Claim(Settlement("ignored", intent_status=intent.status))
    if charge is not None:
        return _existing_success(db, order, charge, intent, now)
    ticket = db.get(Ticket, order.ticket_id, populate_existing=True)
    charge = Charge(
        order_id=order.id,
        status=ChargeStatus.SUCCEEDED,
        amount_cents=intent.amount,
        stripe_id=intent.id,
        created_at=now,
        updated_at=now,
    )
    db.add(charge)
    db.flush()  # IntegrityError if a concurrent settle claimed this intent first
    payable = (
        order.status == OrderStatus.CREATED
        and order.expires_at > now
        and ticket is not None
        and ticket.order_id == order.id
        and ticket.status == TicketStatus.RESERVED
        and intent.amount == order.total_cents
        and intent.currency == gateway.CURRENCY
    )
    if payable:
        _complete(db, order, charge, intent, now)
        return _Claim(Settlement("paid", order.id, charge, intent_status=intent.status))
    if order.status == OrderStatus.CREATED and intent.amount == order.total_cents:
        # Rule 5: past due (or lost its ticket) ends here, whether or not the timer has fired.
        ending = OrderStatus.EXPIRED if order.expires_at <= now else OrderStatus.CANCELLED
        transitions.end_orders(db.connection(), [order.id], ending, now)
    record_charge_event(db, "ChargeCreated", charge, order, now)
    return _Claim(
        Settlement("refund_pending", order.id, charge, REFUND_PENDING_MESSAGE), refund_owner=True
    )


def _complete(
    db: Session, order: Order, charge: Charge, intent: gateway.Intent, now: datetime
) -> None:
    record_charge_event(db, "ChargeCreated", charge, order, now)
    transitions.complete(
        db.connection(),
        order_id=order.id,
        payment_intent_id=intent.id,
        now=now,
        chargeId=charge.id,
    )


def _existing_success(
    db: Session, order: Order, charge: Charge, intent: gateway.Intent, now: datetime
) -> _Claim:
    if charge.status == ChargeStatus.REFUNDED:
        message = _refund_message(order, intent)
        return _Claim(Settlement("refunded", order.id, charge, message, intent_status="succeeded"))
    if order.status == OrderStatus.COMPLETE and order.payment_intent_id == intent.id:
        return _Claim(Settlement("paid", order.id, charge, intent_status="succeeded"))
    pending = Settlement("refund_pending", order.id, charge, REFUND_PENDING_MESSAGE)
    if charge.updated_at > now - REFUND_LEASE:
        return _Claim(pending)  # someone is refunding it right now
    # The refund claim went quiet (a crash between claim and refund): take it over.
    taken = db.exec(
        sa.update(Charge)
        .where(
            Charge.id == charge.id,
            Charge.status == ChargeStatus.SUCCEEDED,
            Charge.updated_at == charge.updated_at,
        )
        .values(updated_at=now)
    ).rowcount
    if taken != 1:
        raise Moved
    return _Claim(pending, refund_owner=True)


def _refund(db: Session, claim: Settlement, intent: gateway.Intent, now: datetime) -> Settlement:
    assert claim.charge is not None and claim.order_id is not None
    charge, order, message = _refund_charge(
        db,
        charge_id=claim.charge.id,
        order_id=claim.order_id,
        intent_id=intent.id,
        now=now,
        intent_amount=intent.amount,
    )
    return Settlement("refunded", order.id, charge, message, intent_status=intent.status)


def _refund_charge(
    db: Session,
    *,
    charge_id: str,
    order_id: str,
    intent_id: str,
    now: datetime,
    intent_amount: int | None = None,
    message: str | None = None,
) -> tuple[Charge, Order, str]:
    """Refund a claimed charge in full at Stripe — unless Stripe already has its refund (an
    earlier owner of the claim got that far); the idempotency key is the same for every
    attempt and every path — then mark it refunded and write ChargeRefunded once (the
    conditional UPDATE decides)."""
    # Only one refunder at a time holds the claim (the lease, taken over by compare-and-set),
    # so "is there a refund already?" then "refund" cannot race itself. The look comes first
    # because an earlier owner may have died after Stripe refunded and before this row said
    # so, and not every Stripe (localstripe) honours the idempotency key or refuses a second
    # full refund.
    refund_id = gateway.find_refund(intent_id) or gateway.refund_intent(
        intent_id,
        idempotency_key=f"ticketing-refund-{order_id}-{intent_id}",
        order_id=order_id,
    )
    with db.begin():
        changed = db.exec(
            sa.update(Charge)
            .where(Charge.id == charge_id, Charge.status == ChargeStatus.SUCCEEDED)
            .values(
                status=ChargeStatus.REFUNDED,
                stripe_refund_id=refund_id,
                version=Charge.version + 1,
                updated_at=now,
            )
        ).rowcount
        charge = db.get(Charge, charge_id, populate_existing=True)
        order = db.get(Order, order_id, populate_existing=True)
        assert charge is not None and order is not None
        amount = charge.amount_cents if intent_amount is None else intent_amount
        message = message or _refund_message_for(order, amount)
        if changed == 1:
            record_charge_event(db, "ChargeRefunded", charge, order, now, message=message)
    log.info("refunded %s for order %s (%s)", intent_id, order.id, refund_id)
    return charge, order, message


def refund_claims(
    db: Session, claims: list[transitions.RefundClaim], *, now: datetime, message: str
) -> int:
    """Refund the charges `transitions.refund_completed` claimed, after its commit; returns
    how many were refunded now. One that Stripe refuses for now stays claimed: the refund
    sweep (payment_upkeep.retry_pending_refunds) finishes it once the claim lease passes, as
    it does for claims a crash left behind."""
    refunded = 0
    for claim in claims:
        try:
            _refund_charge(
                db,
                charge_id=claim.charge_id,
                order_id=claim.order_id,
                intent_id=claim.payment_intent_id,
                now=now,
                message=message,
            )
            refunded += 1
        except gateway.GatewayError as exc:
            log.warning("refund of order %s deferred: %s", claim.order_id, exc)
    return refunded


def is_refunded_sale(order: Order) -> bool:
    """A completed order refunded by `transitions.refund_completed` (cancelled, e-ticket
    revoked: no other path revokes an order that it then ends)."""
    return order.status == OrderStatus.CANCELLED and order.e_ticket_revoked_at is not None


def _settle_decline(db: Session, intent: gateway.Intent, now: datetime) -> Settlement:
    result: Settlement = _retrying(db, _decline_txn, intent, now)
    try:  # a declined intent is finished with: a stale client secret must not charge it later
        gateway.cancel_intent(intent.id)
    except gateway.GatewayError as exc:
        log.info("could not cancel declined intent %s: %s", intent.id, exc)
    return result


def _decline_txn(db: Session, intent: gateway.Intent, now: datetime) -> Settlement:
    message = intent.decline_message or messages.CARD_DECLINED
    existing = db.exec(
        select(Charge).where(Charge.stripe_id == intent.id, Charge.status == ChargeStatus.FAILED)
    ).first()
    order = db.get(Order, intent.order_id, populate_existing=True)
    if order is None:
        return Settlement("ignored", intent_status=intent.status)
    if (
        existing is not None
        or order.status != OrderStatus.CREATED
        or order.payment_intent_id != intent.id
    ):
        # Already counted, or not the order's current attempt: nothing more to record.
        cancelled = (
            order.status == OrderStatus.CANCELLED
            and order.failed_payment_attempts >= MAX_FAILED_ATTEMPTS
        )
        return Settlement("declined", order.id, existing, message, order_cancelled=cancelled)
    attempts = order.failed_payment_attempts + 1
    changed = db.exec(
        sa.update(Order)
        .where(
            Order.id == order.id,
            Order.status == OrderStatus.CREATED,
            Order.payment_intent_id == intent.id,
        )
        .values(failed_payment_attempts=attempts, payment_intent_id=None, updated_at=now)
    ).rowcount
    if changed != 1:
        raise Moved
    charge = Charge(
        order_id=order.id,
        status=ChargeStatus.FAILED,
        amount_cents=intent.amount,
        stripe_id=intent.id,
        failure_message=message[:1000],
        created_at=now,
        updated_at=now,
    )
    db.add(charge)
    db.flush()
    record_charge_event(db, "ChargeCreated", charge, order, now, attempts=attempts)
    cancelled = False
    if attempts >= MAX_FAILED_ATTEMPTS:
        cancelled = bool(
            transitions.end_orders(
                db.connection(), [order.id], OrderStatus.CANCELLED, now, reason="payment_failed"
            )
        )
    return Settlement("declined", order.id, charge, message, order_cancelled=cancelled)


def refund_notice(db: Session, *, order_id: str) -> str | None:
    """What the order page tells the buyer about a payment returned to them, if any.

    A settled charge on an order it did not complete is being (or has been) refunded.
    """
    with db.begin():
        order = db.get(Order, order_id)
        if order is None or order.status == OrderStatus.COMPLETE:
            return None
        charge = _settled_charge_of_order(db, order_id)
    if charge is None:
        return None
    if is_refunded_sale(order):
        if charge.status == ChargeStatus.SUCCEEDED:
            return REFUND_IN_FULL_PENDING_MESSAGE
        return REFUNDED_IN_FULL_MESSAGE
    if charge.status == ChargeStatus.SUCCEEDED:
        return REFUND_PENDING_MESSAGE
    if charge.amount_cents != order.total_cents:
        return AMOUNT_MISMATCH_MESSAGE
    return REFUNDED_MESSAGE


def _settled_charge_of_order(db: Session, order_id: str) -> Charge | None:
    return db.exec(
        select(Charge)
        .where(Charge.order_id == order_id, Charge.status.in_(SETTLED_CHARGE_STATUSES))
        .order_by(Charge.created_at.desc())
    ).first()
