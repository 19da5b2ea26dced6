"""One ticket (`/tickets/[ticket_id]`) and the new-listing form (`/tickets/new`).

Every handler re-reads the user from the cookie and leaves the rules to the services: the
page hides "Buy" from the seller, and `reserve_ticket` refuses it anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

import reflex as rx
from sqlmodel import Session

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError, NotFound
from ticketing_app.models import utcnow
from ticketing_app.services import orders, tickets, validation
from ticketing_app.state.common import (
    field_errors,
    focus_first,
    price_input,
    signed_in_user,
    signin_redirect,
)
from ticketing_app.state.market import ticket_card

T = TypeVar("T")

WHY_NOT_EDITABLE = {
    "reserved": "Cannot edit a reserved ticket: a buyer is holding it. "
    "If their reservation ends without payment it becomes editable again.",
    "sold": "Cannot edit a sold ticket: it has been paid for.",
    "cancelled": "This listing was cancelled and can no longer be edited.",
}


def listing_errors(exc: DomainError, form: dict[str, Any]) -> dict[str, str]:
    """Title and price messages together, once the service refused one of them."""
    return field_errors(
        exc,
        title=lambda: validation.parse_title(form.get("title")),
        price=lambda: validation.parse_price(price_input(form.get("price"))),
    )


def _ticket_id_from_path(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


class TicketState(rx.State):
    ticket: dict[str, Any] = {}
    not_found: bool = False
    loading: bool = True
    signed_in: bool = False
    is_seller: bool = False
    error: str = ""
    title_error: str = ""
    price_error: str = ""
    saved: bool = False
    busy: str = ""  # "buy" | "save" | "cancel" while that request runs
    _form: dict[str, Any] = {}  # the edit being saved, for its field errors

    @rx.var
    def page_title(self) -> str:
        if self.not_found:
            return "Ticket not found · Ticketing"
        title = self.ticket.get("title")
        return f"{title} · Ticketing" if title else "Ticket · Ticketing"

    @rx.var
    def why_not_editable(self) -> str:
        return WHY_NOT_EDITABLE.get(str(self.ticket.get("status", "")), "")

    def _reload_live(self) -> None:
        ticket_id = _ticket_id_from_path(self.router.url.path)
        user = signed_in_user(self)
        self.signed_in = user is not None
        try:
            with read_session() as db:
                ticket = tickets.get_ticket(db, ticket_id)
        except NotFound:
            self.not_found, self.ticket, self.loading = True, {}, False
            return
        self.not_found = False
        self.ticket = ticket_card(ticket)
        self.is_seller = user is not None and user["id"] == ticket.user_id
        self.loading = False

    @rx.event
    def load(self) -> Iterator[None]:
        self.error = self.title_error = self.price_error = self.busy = ""
        self.saved = False
        ticket_id = _ticket_id_from_path(self.router.url.path)
        # A reconnect re-runs on_load: keep this ticket (and the edit form) on screen meanwhile.
        if self.ticket.get("id") != ticket_id.lower() or self.loading:
            self.loading = True
            yield
        live.watch(self.router.session.client_token, TicketState, [live.ticket_topic(ticket_id)])
        self._reload_live()

    def _act(
        self, busy: str, call: Callable[[Session, str], T]
    ) -> Generator[rx.event.EventSpec | None, None, T | None]:
        """What every button here does first: re-read the user from the cookie (not signed in:
        off to sign in), spin that button (`busy`), run `call(db, user_id)` in one write
        transaction. A DomainError is shown on the page, the button stops and the ticket is
        re-read; the result is then None. Use as `result = yield from self._act(...)`."""
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return None
        self.busy, self.error = busy, ""
        yield
        try:
            with write_session() as db:
                return call(db, user["id"])
        except DomainError as exc:
            self._show_error(exc)
            self._done()
            return None

    def _done(self) -> None:
        self.busy = ""
        self._reload_live()

    @rx.event
    def buy(self) -> Iterator[rx.event.EventSpec | None]:
        result = yield from self._act(
            "buy",
            lambda db, user_id: orders.reserve_ticket(
                db, buyer_id=user_id, ticket_id=self.ticket.get("id"), now=utcnow()
            ),
        )
        if result is not None:
            self.busy = ""
            yield rx.redirect(f"/orders/{result.order.id}")

    @rx.event
    def save(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        self.title_error = self.price_error = ""
        self.saved = False
        self._form = dict(form)
        saved = yield from self._act(
            "save",
            lambda db, user_id: tickets.update_ticket(
                db,
                user_id=user_id,
                ticket_id=self.ticket.get("id"),
                title=form.get("title"),
                price=price_input(form.get("price")),
                now=utcnow(),
            ),
        )
        if saved is not None:
            self.saved = True
            yield rx.toast.success("Listing saved")
            self._done()
        elif self.title_error or self.price_error:
            yield focus_first(
                {"title": self.title_error, "price": self.price_error},
                {"title": "edit-title", "price": "edit-price"},
            )

    @rx.event
    def cancel_listing(self) -> Iterator[rx.event.EventSpec | None]:
        cancelled = yield from self._act(
            "cancel",
            lambda db, user_id: tickets.cancel_ticket(
                db, user_id=user_id, ticket_id=self.ticket.get("id"), now=utcnow()
            ),
        )
        if cancelled is not None:
            yield rx.toast.info("Listing cancelled")
            self._done()

    def _show_error(self, exc: DomainError) -> None:
        if exc.field in ("title", "price"):  # the seller's own edit: every field's message
            errors = listing_errors(exc, self._form)
            self.title_error, self.price_error = errors.get("title", ""), errors.get("price", "")
        else:
            self.error = exc.message


class NewTicketState(rx.State):
    title_error: str = ""
    price_error: str = ""
    error: str = ""
    busy: bool = False

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        self.title_error = self.price_error = self.error = ""
        self.busy = False
        if signed_in_user(self) is None:
            return signin_redirect(self)
        return None

    @rx.event
    def create(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        self.title_error = self.price_error = self.error = ""
        self.busy = True
        yield
        try:
            with write_session() as db:
                ticket = tickets.create_ticket(
                    db,
                    seller_id=user["id"],
                    title=form.get("title"),
                    price=price_input(form.get("price")),
                    now=utcnow(),
                )
        except DomainError as exc:
            self.busy = False
            errors = listing_errors(exc, form)
            self.title_error, self.price_error = errors.get("title", ""), errors.get("price", "")
            self.error = errors.get("", "")
            yield focus_first(errors, {"title": "new-title", "price": "new-price"})
            return
        self.busy = False
        yield rx.toast.success("Ticket listed")
        yield rx.redirect(f"/tickets/{ticket.id}")
