"""`/payouts`: the signed-in seller's balance by state, their payouts and ledger lines, and
"Request payout". Every handler re-reads the user from the session cookie; the numbers are
the ledger's sums (services/payouts.py), re-read on every push to the seller's topic (a sale,
a payout requested or paid)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import LedgerBucket, LedgerKind, PayoutStatus, utcnow
from ticketing_app.services import payouts
from ticketing_app.state.common import server_now, signed_in_user, signin_redirect
from ticketing_app.state.live_page import SignedInLivePage

KIND_LABELS: dict[str, str] = {
    LedgerKind.SALE: "Sale",
    LedgerKind.RELEASE: "Released (48 h after the event)",
    LedgerKind.REFUND: "Refund to the buyer",
    LedgerKind.PAYOUT: "Payout requested",
    LedgerKind.PAYOUT_PAID: "Payout paid",
}
BUCKET_LABELS: dict[str, str] = {
    LedgerBucket.PENDING: "Pending",
    LedgerBucket.AVAILABLE: "Available",
    LedgerBucket.PAYOUT: "In payout",
    LedgerBucket.PAID_OUT: "Paid out",
}
PAYOUT_LABELS: dict[str, str] = {
    PayoutStatus.REQUESTED: "Requested",
    PayoutStatus.PAID: "Paid",
}
assert set(KIND_LABELS) == set(LedgerKind) and set(BUCKET_LABELS) == set(LedgerBucket)
assert set(PAYOUT_LABELS) == set(PayoutStatus)
LINES_SHOWN = 200


def line_card(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **entry,
        "kindText": KIND_LABELS[entry["kind"]],
        "bucketText": BUCKET_LABELS[entry["bucket"]],
        "what": entry["ticketTitle"] or "",
    }


def payout_card(payout: Any) -> dict[str, Any]:
    view = payouts.payout_view(payout)
    return {
        **view,
        "statusText": PAYOUT_LABELS[view["status"]],
        "reference": view["reference"] or "",
    }


class PayoutsState(SignedInLivePage, rx.State):
    balance: dict[str, Any] = {}
    lines: list[dict[str, Any]] = []
    payout_rows: list[dict[str, Any]] = []
    busy: bool = False
    error: str = ""

    @rx.var
    def can_request(self) -> bool:
        return float(self.balance.get("available", 0) or 0) > 0

    def _reset(self) -> None:
        """On load: what fell due since the last sweep is released first (idempotent), so
        the figures are current and "Request payout" pays what "Available" says."""
        self.busy, self.error = False, ""
        user = signed_in_user(self)
        if user is not None:
            with write_session() as db:
                payouts.release_due_for(db, seller_id=user["id"], now=utcnow())

    def _topics(self, user_id: str) -> Iterable[str]:
        return [live.seller_topic(user_id)]

    def _due_order_ids(self, user_id: str) -> Iterable[str]:
        return []

    def _reload_live(self) -> None:
        user = signed_in_user(self)
        if user is None:
            self.balance, self.lines, self.payout_rows = {}, [], []
            return
        with read_session() as db:
            balance = payouts.get_balance(db, seller_id=user["id"])
            lines = payouts.list_entries(db, seller_id=user["id"], limit=LINES_SHOWN)
            mine = payouts.list_payouts(db, seller_id=user["id"])
        self.balance = payouts.balance_view(balance)
        self.lines = [line_card(e) for e in lines]
        self.payout_rows = [payout_card(p) for p in mine]
        self.server_now = server_now()
        self.loading = False

    @rx.event
    def request_payout(self) -> Iterator[rx.event.EventSpec | None]:
        """A payout of the whole available balance (the service sums it under a lock)."""
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        self.busy, self.error = True, ""
        yield
        try:
            with write_session() as db:
                payout = payouts.request_payout(db, seller_id=user["id"], now=utcnow())
        except DomainError as exc:
            self.error = exc.message
        else:
            amount = payouts.payout_view(payout)["amount"]
            yield rx.toast.success(f"Payout of {amount:,.2f} {payouts.currency()} requested")
        self.busy = False
        self._reload_live()
