"""`/admin/*` (SPEC §12): what operators see and do. Thin, like every state: each handler
starts with `signed_in_operator(self)` (the role re-read from the database on every call) and
for anyone else changes nothing and sends the browser home; then it calls ONE service
(services/admin.py for actions, services/admin_reads.py for lists), which checks the role
again and writes the audit row. Event arguments are data to check, never identity.

One state for the six pages: `section` (from the route) decides what `rows` holds. An action
is two steps: `ask` opens the confirmation dialog for (action, target), `confirm` runs it with
the reason typed there. Event edits have their own dialog (`start_edit` / `save_event`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import reflex as rx

from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import admin, admin_events, admin_reads
from ticketing_app.services.auth import SignedIn
from ticketing_app.state.common import display_time, signed_in_operator
from ticketing_app.state.event_args import ForgedEvent, form_fields
from ticketing_app.state.snapshot import PageState

SECTIONS = ("users", "listings", "events", "orders", "feed", "audit")
# action -> (dialog title, confirm label, what happens)
ACTIONS: dict[str, tuple[str, str, str]] = {
    "suspend": (
        "Suspend this account?",
        "Suspend account",
        "Their sessions end, their listings leave the market (reservations of them are "
        "cancelled), their own reservations are cancelled, and they cannot sign in.",
    ),
    "reinstate": ("Reinstate this account?", "Reinstate", "They can sign in again."),
    "withdraw": (
        "Withdraw this listing?",
        "Withdraw listing",
        "It leaves the market; a reservation of it is cancelled; the seller is told why.",
    ),
    "cancel_event": (
        "Cancel this event?",
        "Cancel event",
        "Every listing is withdrawn, every reservation cancelled and every paid order "
        "refunded in full. Buyers, sellers and watchers are told. This cannot be undone.",
    ),
    "refund": (
        "Refund this order in full?",
        "Refund in full",
        "The whole payment goes back to the buyer, the e-ticket stops working and the "
        "ticket leaves the market. This cannot be undone.",
    ),
}
_DONE = {
    "suspend": "Account suspended",
    "reinstate": "Account reinstated",
    "withdraw": "Listing withdrawn",
    "cancel_event": "Event cancelled; refunds are on their way",
    "refund": "Order refunded",
}


def _run(action: str, operator: SignedIn, target: str, reason: str) -> None:
    calls: dict[str, Callable[..., Any]] = {
        "suspend": lambda db, **kw: admin.suspend_user(db, user_id=target, **kw),
        "reinstate": lambda db, **kw: admin.reinstate_user(db, user_id=target, **kw),
        "withdraw": lambda db, **kw: admin.withdraw_listing(db, ticket_id=target, **kw),
        "cancel_event": lambda db, **kw: admin_events.cancel_event(db, event_id=target, **kw),
        "refund": lambda db, **kw: admin.refund_order(db, order_id=target, **kw),
    }
    with write_session() as db:
        calls[action](db, operator=operator, reason=reason, now=utcnow())


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ForgedEvent(f"AdminState: {name} is a {type(value).__name__}")
    return value


class AdminState(PageState, rx.State):
    section: str = "users"
    q: str = ""
    rows: list[dict[str, Any]] = []
    error: str = ""
    notice: str = ""
    # The confirmation dialog: which action on which row ("" = closed).
    pending_action: str = ""
    pending_target: str = ""
    pending_label: str = ""
    reason_error: str = ""
    busy: bool = False
    # The event edit dialog.
    edit_id: str = ""
    edit_name: str = ""
    edit_venue: str = ""
    edit_city: str = ""
    edit_starts: str = ""
    edit_error: str = ""

    @rx.var
    def dialog_title(self) -> str:
        return ACTIONS.get(self.pending_action, ("", "", ""))[0]

    @rx.var
    def dialog_confirm(self) -> str:
        return ACTIONS.get(self.pending_action, ("", "", ""))[1]

    @rx.var
    def dialog_text(self) -> str:
        return ACTIONS.get(self.pending_action, ("", "", ""))[2]

    def _refuse(self) -> rx.event.EventSpec:
        """Anyone but an operator: nothing changed, nothing shown, sent home."""
        self.rows = []
        self._close()
        return rx.redirect("/")

    def _close(self) -> None:
        self.pending_action = self.pending_target = self.pending_label = ""
        self.reason_error = ""
        self.edit_id = ""
        self.edit_error = ""

    def _reload(self, operator: SignedIn) -> None:
        reads = {
            "users": lambda db: admin_reads.search_users(db, operator=operator, q=self.q),
            "listings": lambda db: admin_reads.search_listings(db, operator=operator, q=self.q),
            "events": lambda db: admin_reads.search_events(db, operator=operator, q=self.q),
            "orders": lambda db: admin_reads.search_orders(db, operator=operator, q=self.q),
            "feed": lambda db: admin_reads.domain_events(
                db, operator=operator, type=self.q or None
            ),
            "audit": lambda db: admin_reads.audit_log(db, operator=operator),
        }
        with read_session() as db:
            rows = reads[self.section](db)
        self.rows = [_displayable(self.section, row) for row in rows]

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        """on_load of every /admin page."""
        operator = signed_in_operator(self)
        if operator is None:
            return self._refuse()
        path = self.router.url.path.rstrip("/")
        section = path.rsplit("/", 1)[-1] if path.startswith("/admin/") else "users"
        self.section = section if section in SECTIONS else "users"
        self.q, self.error, self.notice = "", "", ""
        self._close()
        self._reload(operator)
        return None

    @rx.event
    def search(self, form: dict[str, Any]) -> rx.event.EventSpec | None:
        operator = signed_in_operator(self)
        if operator is None:
            return self._refuse()
        self.q = form_fields(form, "q")["q"].strip()
        self._reload(operator)
        return None

    @rx.event
    def ask(self, action: Any, target: Any, label: Any) -> rx.event.EventSpec | None:
        """Open the confirmation dialog for `action` on `target` (nothing changes yet)."""
        if signed_in_operator(self) is None:
            return self._refuse()
        action, target, label = _text(action, "action"), _text(target, "target"), label
        if action not in ACTIONS:
            raise ForgedEvent(f"AdminState.ask: unknown action {action[:40]!r}")
        self._close()
        self.pending_action, self.pending_target = action, target
        self.pending_label = _text(label, "label")[:200]
        self.error = self.notice = ""
        return None

    @rx.event
    def close_dialog(self) -> rx.event.EventSpec | None:
        if signed_in_operator(self) is None:
            return self._refuse()
        self._close()
        return None

    @rx.event
    def confirm(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        """Run the dialog's action with the reason typed there (the service checks it)."""
        operator = signed_in_operator(self)
        if operator is None:
            yield self._refuse()
            return
        reason = form_fields(form, "reason")["reason"]
        action, target = self.pending_action, self.pending_target
        if action not in ACTIONS:
            return
        self.busy = True
        yield
        try:
            _run(action, operator, target, reason)
        except DomainError as exc:
            if exc.field == "reason":
                self.reason_error = exc.message
            else:
                self._close()
                self.error = exc.message
            return
        finally:
            self.busy = False
        self._close()
        self.notice = _DONE[action]
        self._reload(operator)

    @rx.event
    def start_edit(self, event_id: Any) -> rx.event.EventSpec | None:
        operator = signed_in_operator(self)
        if operator is None:
            return self._refuse()
        event_id = _text(event_id, "event_id")
        found = next((r for r in self.rows if r.get("id") == event_id), None)
        if self.section != "events" or found is None:
            return None
        self._close()
        self.edit_id = event_id
        self.edit_name, self.edit_venue = found["name"], found["venue"]
        self.edit_city, self.edit_starts = found["city"], found["startsAt"]
        return None

    @rx.event
    def save_event(self, form: dict[str, Any]) -> rx.event.EventSpec | None:
        operator = signed_in_operator(self)
        if operator is None:
            return self._refuse()
        fields = form_fields(form, "name", "venue", "city", "starts_at", "reason")
        starts = fields["starts_at"].strip()
        try:
            with write_session() as db:
                admin_events.edit_event(
                    db,
                    operator=operator,
                    event_id=self.edit_id,
                    reason=fields["reason"],
                    name=fields["name"],
                    venue=fields["venue"],
                    city=fields["city"],
                    starts_at=starts or None,
                    now=utcnow(),
                )
        except DomainError as exc:
            self.edit_error = exc.message
            return None
        self._close()
        self.notice = "Event updated"
        self._reload(operator)
        return None


def _displayable(section: str, row: dict[str, Any]) -> dict[str, Any]:
    """Rows as the pages print them: flat strings (times in UTC for the record)."""
    out = dict(row)
    for key in ("createdAt", "startsAt", "suspendedAt"):
        if out.get(key):
            out[key + "Text"] = display_time(out[key])
    if section in ("feed", "audit"):
        data = out.get("payload") if section == "feed" else out.get("details")
        out["json"] = json.dumps(data, sort_keys=True)[:600]
    if section == "orders":
        charge = out.get("charge") or {}
        out["chargeText"] = f"{charge.get('status', '')} {charge.get('amount', '')}".strip()
        out["refundable"] = out.get("status") == "complete" and charge.get("status") == "succeeded"
    return out
