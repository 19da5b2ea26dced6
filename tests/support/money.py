"""Fees switched on for a test, and the money a seller's ledger holds (SPEC §12)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ticketing_app.db import read_session, write_session
from ticketing_app.services import ledger, payouts, transitions
from ticketing_app.settings import reset_settings

FEE_ENV = ("TICKETING_BUYER_FEE_PERCENT", "TICKETING_SELLER_FEE_PERCENT")


@contextmanager
def fees(buyer: str, seller: str) -> Iterator[None]:
    """TICKETING_BUYER_FEE_PERCENT / _SELLER_ for this process, put back when the block ends."""
    saved = {k: os.environ.get(k) for k in FEE_ENV}
    os.environ.update(dict(zip(FEE_ENV, (buyer, seller), strict=True)))
    reset_settings()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


def complete_paid(url: str, order_id: str, now: datetime) -> Any:
    """Complete an order as a settled payment does (`transitions.complete`, the one place a
    sale is recorded), without a card: for ledger tests that are not about Stripe."""
    with write_session(url) as db, db.begin():
        return transitions.complete(
            db.connection(), order_id=order_id, payment_intent_id=f"pi_test_{order_id}", now=now
        )


def balance(url: str, seller_id: str) -> ledger.Balance:
    with read_session(url) as db:
        return payouts.get_balance(db, seller_id=seller_id)


def recomputed(url: str, seller_id: str) -> dict[str, int]:
    """Each bucket's balance summed in Python from every ledger line the seller can read."""
    sums = {"pending": 0, "available": 0, "payout": 0, "paid_out": 0}
    with read_session(url) as db:
        lines = payouts.list_entries(db, seller_id=seller_id, limit=200)
    for line in lines:
        sums[line["bucket"]] += round(line["amount"] * 100)
    return sums
