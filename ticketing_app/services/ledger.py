"""The seller ledger (SPEC §12): append-only rows of signed integer cents, one currency.

Each row sits in one bucket — pending, available, payout (requested, not yet paid), paid_out
— and a bucket's balance is the SUM of its rows (never a stored column). Moving money is two
rows written together: minus in the bucket it leaves, plus in the one it enters. Rows are
never updated or deleted; the unique indexes on (order, kind, bucket) and (payout, kind,
bucket) make each step of a sale or a payout happen at most once, whoever retries it.

The steps of a sale, each a function here running on the caller's open transaction:
- `record_sale`: the order completed: proceeds (price − seller fee) are pending (called by
  `transitions.complete`, so it commits or rolls back with the sale);
- `release_due`: 48 hours after the event's start (after the sale, without an event) they
  become available (the scheduler's sweep, and every payout request first);
- `reverse_sale`: the order was refunded: the proceeds leave whichever bucket they sit in.

Every writer that decides from a seller's balance or from where a sale sits first locks the
seller's `users` row (PostgreSQL `FOR NO KEY UPDATE`, which leaves the foreign-key checks of
other inserts alone; SQLite write transactions are BEGIN IMMEDIATE, one at a time), so those
decisions are exact under concurrency. Payouts are in `services/payouts.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ticketing_app.models import (
    Event,
    EventStatus,
    LedgerBucket,
    LedgerEntry,
    LedgerKind,
    Order,
    Ticket,
    User,
)

# How long proceeds stay pending after the event's start (or the sale, without an event).
HOLD = timedelta(hours=48)
RELEASE_BATCH = 500

_LEDGER = LedgerEntry.__table__
_ORDERS = Order.__table__
_TICKETS = Ticket.__table__
_EVENTS = Event.__table__
_USERS = User.__table__
_INSERT = sa.insert(_LEDGER)


@dataclass(frozen=True)
class Balance:
    """A seller's balance by bucket, in cents: sums of the ledger, read in one statement."""

    pending: int = 0
    available: int = 0
    in_payout: int = 0
    paid_out: int = 0


def lock_sellers(conn: sa.Connection, seller_ids: Iterable[str]) -> None:
    """Serialise this transaction's ledger decisions with every other writer's for these
    sellers (in id order, so two batches never deadlock). SQLite: already serialised."""
    ids = sorted(set(seller_ids))
    if conn.dialect.name == "postgresql" and ids:
        conn.execute(
            sa.select(_USERS.c.id)
            .where(_USERS.c.id.in_(ids))
            .order_by(_USERS.c.id)
            .with_for_update(key_share=True)
        ).all()


def _row(
    seller_id: str,
    kind: LedgerKind,
    bucket: LedgerBucket,
    amount: int,
    now: datetime,
    *,
    order_id: str | None = None,
    payout_id: str | None = None,
) -> dict[str, Any]:
    return {
        "seller_id": seller_id,
        "kind": kind,
        "bucket": bucket,
        "amount_cents": amount,
        "order_id": order_id,
        "payout_id": payout_id,
        "created_at": now,
    }


def move(
    conn: sa.Connection,
    *,
    seller_id: str,
    kind: LedgerKind,
    source: LedgerBucket,
    target: LedgerBucket,
    amount: int,
    now: datetime,
    order_id: str | None = None,
    payout_id: str | None = None,
) -> None:
    """Move `amount` cents from `source` to `target`: the two rows of one step."""
    keys = {"order_id": order_id, "payout_id": payout_id}
    conn.execute(
        _INSERT,
        [
            _row(seller_id, kind, source, -amount, now, **keys),
            _row(seller_id, kind, target, amount, now, **keys),
        ],
    )


def record_sale(conn: sa.Connection, *, order: Order, seller_id: str, now: datetime) -> int:
    """The completed `order`'s proceeds (price − seller fee, as snapshotted on the order) go
    to the seller's pending bucket; returns them in cents (nothing is written for 0, a 100 %
    seller fee). At most once per order (unique index): call it in the completing
    transaction."""
    proceeds = order.price_cents - order.seller_fee_cents
    if proceeds > 0:
        conn.execute(
            _INSERT,
            _row(
                seller_id, LedgerKind.SALE, LedgerBucket.PENDING, proceeds, now, order_id=order.id
            ),
        )
    return max(proceeds, 0)


def _step_exists(kinds: tuple[LedgerKind, ...], sale: Any) -> Any:
    other = _LEDGER.alias("other")
    return sa.exists().where(other.c.order_id == sale.c.order_id, other.c.kind.in_(kinds))


def _due_sales(
    now: datetime, seller_id: str | None, order_ids: list[str] | None = None
) -> sa.Select[Any]:
    """Pending sales whose hold is over and that were neither released nor refunded: 48 h
    after the event's start, or after the sale without an event. A cancelled event's sales
    stay pending: their refunds reverse them."""
    sale = _LEDGER.alias("sale")
    cutoff = now - HOLD
    query = (
        sa.select(sale.c.order_id, sale.c.seller_id, sale.c.amount_cents)
        .select_from(
            sale.join(_ORDERS, _ORDERS.c.id == sale.c.order_id)
            .join(_TICKETS, _TICKETS.c.id == _ORDERS.c.ticket_id)
            .outerjoin(_EVENTS, _EVENTS.c.id == _TICKETS.c.event_id)
        )
        .where(
            sale.c.kind == LedgerKind.SALE,
            sale.c.bucket == LedgerBucket.PENDING,
            ~_step_exists((LedgerKind.RELEASE, LedgerKind.REFUND), sale),
            sa.or_(
                sa.and_(_TICKETS.c.event_id.is_(None), sale.c.created_at <= cutoff),
                sa.and_(_EVENTS.c.status == EventStatus.SCHEDULED, _EVENTS.c.starts_at <= cutoff),
            ),
        )
        .order_by(sale.c.id)
    )
    if seller_id is not None:
        query = query.where(sale.c.seller_id == seller_id)
    if order_ids is not None:
        query = query.where(sale.c.order_id.in_(order_ids))
    return query


def release_due(
    conn: sa.Connection, *, now: datetime, seller_id: str | None = None, limit: int = RELEASE_BATCH
) -> list[str]:
    """Move due pending sales (of one seller, or anyone's) to available; returns their order
    ids (at most `limit`; call again while it returns that many). Idempotent: the sellers
    are locked, then the due sales read again, so a concurrent release or refund of the same
    sale is seen, never doubled."""
    candidates = conn.execute(_due_sales(now, seller_id).limit(limit)).all()
    if not candidates:
        return []
    lock_sellers(conn, (c.seller_id for c in candidates))
    ids = [c.order_id for c in candidates]
    due = conn.execute(_due_sales(now, seller_id, ids)).all()
    rows: list[dict[str, Any]] = []
    for sale in due:
        keys = {"order_id": sale.order_id}
        rows.append(
            _row(
                sale.seller_id,
                LedgerKind.RELEASE,
                LedgerBucket.PENDING,
                -sale.amount_cents,
                now,
                **keys,
            )
        )
        rows.append(
            _row(
                sale.seller_id,
                LedgerKind.RELEASE,
                LedgerBucket.AVAILABLE,
                sale.amount_cents,
                now,
                **keys,
            )
        )
    if rows:
        conn.execute(_INSERT, rows)
    return [sale.order_id for sale in due]


def reverse_sale(conn: sa.Connection, order_id: str, now: datetime) -> int:
    """A refund of the completed order `order_id`: its proceeds leave the seller's ledger.

    Contract (for every refund path: an operator's refund, an event's cancellation): call it
    in the transaction that commits to the refund (transitions.refund_completed: the order
    cancelled and its charge claimed; the claim is always carried through at Stripe), with
    the time of that transaction. It takes the seller's proceeds back from the
    bucket they sit in — `pending` before the release, `available` after it (also once they
    were requested or paid out: `available` then goes below zero, and the debt is settled by
    the seller's next sales before anything more can be paid out). Idempotent: a second call
    for the same order, or one for an order that never completed (no sale row), writes
    nothing and returns 0; otherwise returns the cents reversed. Locks the seller's row
    (PostgreSQL), so it never races a release into reversing from the wrong bucket."""
    sale = conn.execute(
        sa.select(_LEDGER.c.seller_id, _LEDGER.c.amount_cents).where(
            _LEDGER.c.order_id == order_id,
            _LEDGER.c.kind == LedgerKind.SALE,
            _LEDGER.c.bucket == LedgerBucket.PENDING,
        )
    ).first()
    if sale is None:
        return 0
    lock_sellers(conn, [sale.seller_id])
    steps = set(
        conn.execute(
            sa.select(_LEDGER.c.kind).where(
                _LEDGER.c.order_id == order_id,
                _LEDGER.c.kind.in_((LedgerKind.RELEASE, LedgerKind.REFUND)),
            )
        ).scalars()
    )
    if LedgerKind.REFUND in steps:
        return 0
    bucket = LedgerBucket.AVAILABLE if LedgerKind.RELEASE in steps else LedgerBucket.PENDING
    conn.execute(
        _INSERT,
        _row(sale.seller_id, LedgerKind.REFUND, bucket, -sale.amount_cents, now, order_id=order_id),
    )
    return int(sale.amount_cents)


def balance(conn: sa.Connection, seller_id: str) -> Balance:
    """The seller's balance by bucket: the ledger's sums (one GROUP BY)."""
    sums = dict(
        conn.execute(
            sa.select(_LEDGER.c.bucket, sa.func.sum(_LEDGER.c.amount_cents))
            .where(_LEDGER.c.seller_id == seller_id)
            .group_by(_LEDGER.c.bucket)
        ).all()
    )
    return Balance(
        pending=int(sums.get(LedgerBucket.PENDING) or 0),
        available=int(sums.get(LedgerBucket.AVAILABLE) or 0),
        in_payout=int(sums.get(LedgerBucket.PAYOUT) or 0),
        paid_out=int(sums.get(LedgerBucket.PAID_OUT) or 0),
    )


def entries(
    conn: sa.Connection, seller_id: str, *, limit: int = 200, offset: int = 0
) -> list[sa.Row[Any]]:
    """The seller's ledger rows, newest first, with the sold ticket's title where there is one."""
    return list(
        conn.execute(
            sa.select(*_LEDGER.c, _TICKETS.c.title.label("ticket_title"))
            .select_from(
                _LEDGER.outerjoin(_ORDERS, _ORDERS.c.id == _LEDGER.c.order_id).outerjoin(
                    _TICKETS, _TICKETS.c.id == _ORDERS.c.ticket_id
                )
            )
            .where(_LEDGER.c.seller_id == seller_id)
            .order_by(_LEDGER.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
