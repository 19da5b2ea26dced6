"""One ticket (`/tickets/[id]`) and the new-listing form (`/tickets/new`).

Every handler re-reads the user from the cookie and leaves the rules to the services: the
page hides "Buy" from the seller, and `reserve_ticket` refuses it anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

import reflex as rx
from sqlmodel import Session

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError, NotFound
from ticketing_app.models import Ticket, utcnow
from ticketing_app.services import (
    delivery,
    event_listings,
    events,
    fees,
    files,
    orders,
    tickets,
    validation,
)
from ticketing_app.services.validation import price_number
from ticketing_app.settings import get_settings
from ticketing_app.state.common import (
    field_errors,
    focus_first,
    price_input,
    signed_in_user,
    signin_redirect,
)
from ticketing_app.state.event_args import form_fields
from ticketing_app.state.events import event_card, listing_card
from ticketing_app.state.snapshot import PageState
from ticketing_app.state.ticket_file import read_upload

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


class TicketState(PageState, rx.State):
    ticket: dict[str, Any] = {}
    event: dict[str, Any] = {}  # its event's card ({}: a ticket without an event)
    not_found: bool = False
    loading: bool = True
    signed_in: bool = False
    is_seller: bool = False
    error: str = ""
    title_error: str = ""
    price_error: str = ""
    saved: bool = False
    busy: str = ""  # "buy" | "save" | "cancel" while that request runs
    # SPEC §12, from services/fees.py at the ticket's price: what a buyer pays all in (shown
    # before "Buy") and what the seller receives.
    fee: float = 0
    total: float = 0
    seller_fee: float = 0
    proceeds: float = 0
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
                ticket, summary = event_listings.ticket_with_event(db, ticket_id)
        except NotFound:
            self.not_found, self.ticket, self.event, self.loading = True, {}, {}, False
            return
        self.not_found = False
        money = fees.breakdown(ticket.price_cents)
        self.fee, self.total = price_number(money.fee_cents), price_number(money.total_cents)
        self.seller_fee = price_number(money.seller_fee_cents)
        self.proceeds = price_number(money.proceeds_cents)
        self.ticket = listing_card(ticket)
        self.event = event_card(summary) if summary is not None else {}
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
                db.get_bind(),
                buyer_id=user_id,
                ticket_id=self.ticket.get("id"),
                now=utcnow(),
                expected_price=self.ticket.get("price"),  # the price this page shows
            ),
        )
        if result is not None:
            self.busy = ""
            yield rx.redirect(f"/orders/{result.order.id}")

    @rx.event
    def save(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        fields = form_fields(form, "title", "price")
        self.title_error = self.price_error = ""
        self.saved = False
        self._form = dict(form)
        saved = yield from self._act(
            "save",
            lambda db, user_id: tickets.update_ticket(
                db,
                user_id=user_id,
                ticket_id=self.ticket.get("id"),
                title=fields["title"],
                price=price_input(fields["price"]),
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


# Form field of each service error `field` on /tickets/new.
NEW_TICKET_FIELDS = {
    "title": "title",
    "price": "price",
    "faceValue": "face_value",
    "name": "event",
    "eventId": "event",
    "venue": "venue",
    "city": "city",
    "startsAt": "starts_at",
}
LISTING_FORM = ("title", "price", "face_value", "event", "venue", "city", "starts_at")
NEW_UPLOAD_ID = "new-ticket-file"
NEW_TICKET_IDS = {"title": "new-title", "price": "new-price", "face_value": "new-face-value"}
SUGGESTIONS = 6


def _listing(
    fields: dict[str, str], event_id: Any, new_event: dict[str, Any] | None
) -> dict[str, Any]:
    """The form's fields as `event_listings.list_ticket` takes them."""
    return {
        "title": fields["title"],
        "price": price_input(fields["price"]),
        "face_value": price_input(fields["face_value"]),
        "event_id": event_id,
        "new_event": new_event,
    }


def _list(
    user_id: str, fields: dict[str, str], event_id: Any, new_event: dict[str, Any] | None
) -> Ticket:
    with write_session() as db:
        return event_listings.list_ticket(
            db, seller_id=user_id, now=utcnow(), **_listing(fields, event_id, new_event)
        )


def _list_with_file(
    user_id: str,
    fields: dict[str, str],
    event_id: Any,
    new_event: dict[str, Any] | None,
    data: bytes,
    name: str | None,
) -> tuple[Ticket, DomainError | None]:
    with write_session() as db:
        return delivery.list_ticket_with_file(
            db,
            seller_id=user_id,
            data=data,
            filename=name,
            now=utcnow(),
            **_listing(fields, event_id, new_event),
        )


class NewTicketState(PageState, rx.State):
    """The listing form: title, price, face value and the event, picked from the upcoming
    ones as the seller types ("Event"), or named with venue, city and start to create it."""

    errors: dict[str, str] = {}
    error: str = ""
    busy: bool = False
    event_query: str = ""
    suggestions: list[dict[str, Any]] = []
    chosen: dict[str, Any] = {}  # the picked event's card; {} while none is picked
    time_zone: str = ""  # the browser's IANA zone: "Starts at" is its local time
    cap_hint: str = ""
    file_error: str = ""  # the chosen ticket file's refusal (nothing was listed)
    progress: int = 0

    @rx.var
    def title_error(self) -> str:
        return self.errors.get("title", "")

    @rx.var
    def price_error(self) -> str:
        return self.errors.get("price", "")

    @rx.var
    def has_chosen(self) -> bool:
        return bool(self.chosen)

    @rx.event
    def load(self) -> Iterator[rx.event.EventSpec | None]:
        self.errors, self.error, self.busy = {}, "", False
        self.file_error, self.progress = "", 0
        self.event_query, self.suggestions, self.chosen = "", [], {}
        cap = get_settings().ticketing_price_cap_percent
        self.cap_hint = f"With a face value, the price may be at most {cap}% of it." if cap else ""
        if signed_in_user(self) is None:
            yield signin_redirect(self)
            return
        yield rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=NewTicketState.set_time_zone,
        )
        wanted = self.router.url.query_parameters.get("event")
        if wanted:
            self._choose(str(wanted))

    @rx.event
    def set_time_zone(self, zone: Any) -> None:
        self.time_zone = str(zone or "")[:64]

    def _choose(self, event_id: str) -> None:
        try:
            with read_session() as db:
                summary = events.get_event(db, event_id)
        except NotFound:
            self.errors = {**self.errors, "event": "That event no longer exists"}
            return
        self.chosen = event_card(summary)
        self.event_query = summary.event.name
        self.suggestions = []

    @rx.event
    def search_events(self, value: str) -> None:
        """Search as you type: upcoming events whose name, venue or city match."""
        self.event_query = str(value)[: events.SEARCH_MAX]
        if self.chosen and self.event_query != self.chosen.get("name"):
            self.chosen = {}
        if len(self.event_query.strip()) < 2 or self.chosen:
            self.suggestions = []
            return
        with read_session() as db:
            page = events.list_events(db, now=utcnow(), q=self.event_query, limit=SUGGESTIONS)
        self.suggestions = [event_card(s) for s in page.items]

    @rx.event
    def pick_event(self, event_id: str) -> None:
        self._choose(event_id)

    @rx.event
    def clear_event(self) -> None:
        self.chosen, self.event_query, self.suggestions = {}, "", []

    def _new_event(self, fields: dict[str, str]) -> dict[str, Any] | None:
        """The event named in the form when none was picked (created by the listing)."""
        name = fields["event"].strip()
        if self.chosen or not name:
            return None
        return {
            "name": name,
            "venue": fields["venue"],
            "city": fields["city"],
            "starts_at": events.local_to_utc(fields["starts_at"], self.time_zone),
        }

    def _refuse(self, exc: DomainError, fields: dict[str, str]) -> rx.event.EventSpec | None:
        """Show the service's refusal on its field (title and price together)."""
        self.busy = False
        field = NEW_TICKET_FIELDS.get(exc.field or "")
        if field in ("title", "price"):  # every field's message at once
            self.errors = {k: v for k, v in listing_errors(exc, fields).items() if k}
        elif field:
            self.errors = {field: exc.message}
        else:
            self.error = exc.message
        return focus_first(self.errors, NEW_TICKET_IDS)

    @rx.event
    def create(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        """List without a file (the form's submit when no file is chosen)."""
        fields = form_fields(form, *LISTING_FORM)
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        self.errors, self.error, self.file_error = {}, "", ""
        self.busy = True
        yield
        try:
            ticket = _list(user["id"], fields, self.chosen.get("id"), self._new_event(fields))
        except DomainError as exc:
            yield self._refuse(exc, fields)
            return
        self.busy = False
        yield rx.toast.success("Ticket listed")
        yield rx.redirect(f"/tickets/{ticket.id}")

    @rx.event
    def on_progress(self, progress: dict[str, Any]) -> None:
        self.progress = min(100, round(float(progress.get("progress", 0) or 0) * 100))

    @rx.event
    def refused(self, rejections: list[Any]) -> None:
        """The dropzone's own refusal (a name or type it was told not to take)."""
        self.file_error = f"{files.WRONG_TYPE}, at most 5 MB"

    @rx.event(background=True)
    async def create_with_file(self, chunks: rx.UploadChunkIterator, form: dict[str, Any]):  # noqa: ANN201
        """List with the chosen ticket file (the form's submit when one is chosen): the file
        is read (at most 5 MB + 1 byte) and checked by the attach rule's own inspection
        before anything is written, so a refused file lists nothing and keeps the form as
        typed (decision 70). Only a refusal after listing (the ticket changed in between)
        leaves the listing without its file, and the ticket page says so."""
        fields = form_fields(form, *LISTING_FORM)
        async with self:
            user = signed_in_user(self)
            redirect = signin_redirect(self) if user is None else None
            self.errors, self.error, self.file_error = {}, "", ""
            self.busy, self.progress = user is not None, 0
            chosen_id, new_event = self.chosen.get("id"), self._new_event(fields)
        if user is None:
            yield redirect
            return
        try:
            data, name = await read_upload(chunks)
            ticket, not_attached = await asyncio.to_thread(
                _list_with_file, user["id"], fields, chosen_id, new_event, data, name
            )
        except DomainError as exc:
            async with self:
                if exc.field == files.FIELD:  # the file refused: nothing was listed
                    self.file_error, self.busy = exc.message, False
                    focus = None
                else:
                    focus = self._refuse(exc, fields)
            yield focus
            return
        if not_attached is None:
            done = rx.toast.success("Ticket listed with its file")
        else:
            done = rx.toast.warning(
                f"Ticket listed, but its file was not attached: {not_attached.message}",
                duration=15000,
            )
        async with self:
            self.busy, self.progress = False, 100
        yield done
        yield rx.clear_selected_files(NEW_UPLOAD_ID)
        yield rx.redirect(f"/tickets/{ticket.id}")
