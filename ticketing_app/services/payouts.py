"""Seller balances and payouts (SPEC §12), over the ledger (services/ledger.py).

A seller sees their balance by bucket and their ledger lines, and requests a payout of the
whole available balance; an operator sees the payout queue, marks a payout paid with the
reference of the transfer they made outside this system (there is no Stripe Connect with
localstripe: docs/money.md), and exports the queue as CSV. Every function owns its
transaction; the request and the mark-paid write their domain event (PayoutRequested,
PayoutPaid) and, for the operator, the audit row in it.

A payout request can never exceed the available balance, under any concurrency: the seller's
row is locked (PostgreSQL; SQLite write transactions are BEGIN IMMEDIATE) before the balance
is summed, and the two ledger rows of the request are written in that transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing_app import outbox
from ticketing_app.errors import NotFound, RuleViolation
from ticketing_app.models import (
    PAYOUT_REFERENCE_MAX,
    LedgerBucket,
    LedgerKind,
    Payout,
    PayoutStatus,
    User,
    iso,
    new_id,
)
from ticketing_app.services import ledger, operators
from ticketing_app.services.tickets import check_page
from ticketing_app.services.validation import format_price, is_uuid, parse_text, price_number
from ticketing_app.settings import get_settings

NOTHING_AVAILABLE = "Nothing is available to pay out yet"
PAYOUT_NOT_FOUND = "Payout not found"
QUEUE_MAX = 500
CSV_COLUMNS = (
    "payout_id",
    "seller_id",
    "seller_email",
    "amount",
    "currency",
    "status",
    "requested_at",
    "paid_at",
    "reference",
)
_PAYOUTS = Payout.__table__
_USERS = User.__table__


def currency() -> str:
    return get_settings().ticketing_currency


def balance_view(balance: ledger.Balance) -> dict[str, Any]:
    """`GET /api/balance`: decimal major units like every amount of the API."""
    return {
        "currency": currency(),
        "pending": price_number(balance.pending),
        "available": price_number(balance.available),
        "inPayout": price_number(balance.in_payout),
        "paidOut": price_number(balance.paid_out),
    }


def entry_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "bucket": row.bucket,
        "amount": price_number(row.amount_cents),
        "currency": currency(),
        "orderId": row.order_id,
        "payoutId": row.payout_id,
        "ticketTitle": row.ticket_title,
        "createdAt": iso(row.created_at),
    }


def payout_view(payout: Payout | Any) -> dict[str, Any]:
    return {
        "id": payout.id,
        "sellerId": payout.seller_id,
        "amount": price_number(payout.amount_cents),
        "currency": currency(),
        "status": payout.status,
        "reference": payout.reference,
        "createdAt": iso(payout.created_at),
        "paidAt": iso(payout.paid_at),
    }


def _event(type: str, payout: Payout) -> outbox.NewEvent:
    return outbox.NewEvent(type, "payout", payout.id, payout.version, payout_view(payout))


def get_balance(db: Session, *, seller_id: str) -> ledger.Balance:
    with db.begin():
        return ledger.balance(db.connection(), seller_id)


def list_entries(
    db: Session, *, seller_id: str, limit: int = 200, offset: int = 0
) -> list[dict[str, Any]]:
    """The seller's ledger lines, newest first (paged like every list)."""
    check_page(limit, offset)
    with db.begin():
        rows = ledger.entries(db.connection(), seller_id, limit=limit, offset=offset)
    return [entry_view(row) for row in rows]


def list_payouts(db: Session, *, seller_id: str) -> list[Payout]:
    """The seller's payouts, newest first."""
    with db.begin():
        rows = db.connection().execute(
            sa.select(_PAYOUTS)
            .where(_PAYOUTS.c.seller_id == seller_id)
            .order_by(_PAYOUTS.c.created_at.desc(), _PAYOUTS.c.id)
            .limit(QUEUE_MAX)
        )
        return [Payout(**row._mapping) for row in rows]


def release_due_for(db: Session, *, seller_id: str, now: datetime) -> list[str]:
    """Make the seller's due proceeds available now instead of at the next sweep (the
    /payouts page on load: what it shows as available is then what "Request payout" pays).
    Idempotent; a read only, unless something is due."""
    with db.begin():
        return ledger.release_due(db.connection(), now=now, seller_id=seller_id)


def request_payout(db: Session, *, seller_id: str, now: datetime) -> Payout:
    """A payout of the seller's whole available balance (due releases first, so it never
    depends on the sweep having run). RuleViolation (400) when nothing is available."""
    with db.begin():
        conn = db.connection()
        ledger.lock_sellers(conn, [seller_id])  # before the sum: the count is exact
        ledger.release_due(conn, now=now, seller_id=seller_id)
        available = ledger.balance(conn, seller_id).available
        if available <= 0:
            raise RuleViolation(NOTHING_AVAILABLE)
        payout = Payout(
            id=new_id(),
            seller_id=seller_id,
            amount_cents=available,
            status=PayoutStatus.REQUESTED,
            version=1,
            created_at=now,
        )
        conn.execute(sa.insert(_PAYOUTS).values(payout.model_dump()))
        ledger.move(
            conn,
            seller_id=seller_id,
            kind=LedgerKind.PAYOUT,
            source=LedgerBucket.AVAILABLE,
            target=LedgerBucket.PAYOUT,
            amount=available,
            now=now,
            payout_id=payout.id,
        )
        outbox.write_rows(conn, [_event("PayoutRequested", payout)], now=now)
    return payout


def parse_reference(value: Any) -> str:
    """The external payment's reference (a bank transfer id): required, one line."""
    return parse_text(value, "reference", "Reference", PAYOUT_REFERENCE_MAX)


def mark_paid(
    db: Session, *, operator: Any, payout_id: Any, reference: Any, now: datetime
) -> Payout:
    """An operator paid `payout_id` outside this system, with `reference`: the payout moves
    to paid out, with the audit row and PayoutPaid in the same transaction. 403 for a
    non-operator, 404 unknown payout, 400 no reference or already paid."""
    operators.require_operator(operator)
    if not is_uuid(payout_id):
        raise NotFound(PAYOUT_NOT_FOUND)
    with db.begin():
        conn = db.connection()
        found = conn.execute(sa.select(_PAYOUTS).where(_PAYOUTS.c.id == payout_id)).first()
        if found is None:
            raise NotFound(PAYOUT_NOT_FOUND)
        ref = parse_reference(reference)
        row = conn.execute(
            sa.update(_PAYOUTS)
            .where(_PAYOUTS.c.id == found.id, _PAYOUTS.c.status == PayoutStatus.REQUESTED)
            .values(
                status=PayoutStatus.PAID,
                reference=ref,
                paid_at=now,
                paid_by=operator.id,
                version=_PAYOUTS.c.version + 1,
            )
            .returning(*_PAYOUTS.c)
        ).first()
        if row is None:  # a concurrent (or earlier) mark-paid won
            paid = conn.execute(
                sa.select(_PAYOUTS.c.reference).where(_PAYOUTS.c.id == found.id)
            ).scalar_one()
            raise RuleViolation(f"This payout was already marked paid (reference {paid})")
        payout = Payout(**row._mapping)
        ledger.move(
            conn,
            seller_id=payout.seller_id,
            kind=LedgerKind.PAYOUT_PAID,
            source=LedgerBucket.PAYOUT,
            target=LedgerBucket.PAID_OUT,
            amount=payout.amount_cents,
            now=now,
            payout_id=payout.id,
        )
        operators.audit(
            conn,
            operator_id=operator.id,
            action="payout.paid",
            target_type="payout",
            target_id=payout.id,
            reason=f"Paid outside the platform, reference {ref}",
            now=now,
            reference=ref,
            amount_cents=payout.amount_cents,
            seller_id=payout.seller_id,
        )
        outbox.write_rows(conn, [_event("PayoutPaid", payout)], now=now)
    return payout


@dataclass(frozen=True)
class QueuedPayout:
    payout: Payout
    seller_email: str


def payout_queue(db: Session, *, operator: Any, status: str | None = None) -> list[QueuedPayout]:
    """The operators' queue: requested payouts first (oldest first: pay in turn), then the
    paid ones, newest first. 403 for a non-operator."""
    operators.require_operator(operator)
    query = (
        sa.select(_PAYOUTS, _USERS.c.email.label("seller_email"))
        .join(_USERS, _USERS.c.id == _PAYOUTS.c.seller_id)
        .order_by(
            (_PAYOUTS.c.status != PayoutStatus.REQUESTED),
            sa.case(
                (_PAYOUTS.c.status == PayoutStatus.REQUESTED, _PAYOUTS.c.created_at),
                else_=None,
            ),
            _PAYOUTS.c.paid_at.desc(),
            _PAYOUTS.c.id,
        )
        .limit(QUEUE_MAX)
    )
    if status is not None:
        query = query.where(_PAYOUTS.c.status == status)
    with db.begin():
        rows = db.connection().execute(query).all()
    queued = []
    for row in rows:
        values = dict(row._mapping)
        email = values.pop("seller_email")
        queued.append(QueuedPayout(Payout(**values), email))
    return queued


def _cell(value: Any) -> str:
    """One CSV cell; text a spreadsheet would run as a formula (=, +, -, @, tab, CR) is
    prefixed with an apostrophe (OWASP "CSV injection")."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def queue_csv(queued: list[QueuedPayout]) -> str:
    """The queue as CSV (RFC 4180 via the csv module): a header row, then one row a payout;
    amounts with two decimals in the deployment's currency, times ISO 8601 UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for q in queued:
        p = q.payout
        writer.writerow(
            [
                _cell(v)
                for v in (
                    p.id,
                    p.seller_id,
                    q.seller_email,
                    format_price(p.amount_cents),
                    currency(),
                    p.status,
                    iso(p.created_at),
                    iso(p.paid_at),
                    p.reference,
                )
            ]
        )
    return out.getvalue()
