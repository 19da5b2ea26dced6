"""`/admin/payouts`: the operators' payout queue (SPEC §12) — requested payouts first, "Mark
paid" with the transfer's reference, the CSV export. Every handler (and every live reload)
re-reads the operator from the session cookie and the database (`signed_in_operator`): a
normal user's forged event changes nothing and is told so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import PayoutStatus, utcnow
from ticketing_app.services import payouts
from ticketing_app.services.operators import OPERATORS_ONLY
from ticketing_app.state.common import (
    download_script,
    signed_in_operator,
    signed_in_user,
    signin_redirect,
)
from ticketing_app.state.event_args import form_fields
from ticketing_app.state.payouts import PAYOUT_LABELS
from ticketing_app.state.snapshot import PageState


def queue_card(queued: payouts.QueuedPayout) -> dict[str, Any]:
    view = payouts.payout_view(queued.payout)
    return {
        **view,
        "sellerEmail": queued.seller_email,
        "statusText": PAYOUT_LABELS[view["status"]],
        "reference": view["reference"] or "",
        "open": view["status"] == PayoutStatus.REQUESTED,
    }


class AdminPayoutsState(PageState, rx.State):
    rows: list[dict[str, Any]] = []
    loading: bool = True
    forbidden: bool = False
    busy: str = ""  # the payout being marked paid
    error: str = ""
    errors: dict[str, str] = {}  # payout id -> its reference field's message

    @rx.var
    def open_count_text(self) -> str:
        """ "Nothing to pay", "1 payout to pay", "3 payouts to pay"."""
        n = sum(1 for row in self.rows if row.get("open"))
        if n == 0:
            return "Nothing to pay"
        return f"{n} payout{'' if n == 1 else 's'} to pay"

    @rx.event
    def load(self) -> Iterator[rx.event.EventSpec | None]:
        self.error, self.errors, self.busy = "", {}, ""
        if signed_in_operator(self) is None:
            self.rows, self.loading = [], False
            if signed_in_user(self) is None:
                yield signin_redirect(self)
            else:
                self.forbidden = True
            return
        self.forbidden = False
        live.watch(self.router.session.client_token, AdminPayoutsState, [live.PAYOUTS])
        self._reload_live()

    def _reload_live(self) -> None:
        operator = signed_in_operator(self)
        if operator is None:  # the role was revoked, or the session ended: show nothing
            self.rows, self.forbidden = [], True
            return
        with read_session() as db:
            queued = payouts.payout_queue(db, operator=operator)
        self.rows = [queue_card(q) for q in queued]
        self.loading = False

    @rx.event
    def mark_paid(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        operator = signed_in_operator(self)
        if operator is None:
            self.error, self.rows = OPERATORS_ONLY, []
            return
        fields = form_fields(form, "payout_id", "reference")
        payout_id = fields["payout_id"][:64]
        self.busy, self.error, self.errors = payout_id, "", {}
        yield
        try:
            with write_session() as db:
                payouts.mark_paid(
                    db,
                    operator=operator,
                    payout_id=payout_id,
                    reference=fields["reference"],
                    now=utcnow(),
                )
        except DomainError as exc:
            if exc.field == "reference":
                self.errors = {payout_id: exc.message}
            else:
                self.error = exc.message
        else:
            yield rx.toast.success("Payout marked paid")
        self.busy = ""
        self._reload_live()

    @rx.event
    def download_csv(self) -> rx.event.EventSpec | None:
        """The CSV from GET /api/admin/payouts.csv, which checks the role on the cookie too."""
        if signed_in_operator(self) is None:
            self.error = OPERATORS_ONLY
            return None
        return download_script("/api/admin/payouts.csv")
