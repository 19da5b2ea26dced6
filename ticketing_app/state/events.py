"""Events (SPEC §9) in the UI: the front door's upcoming events (`EventsState`, on `/` above
the ticket list) and one event with its tickets cheapest first (`EventPageState`). Both live.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import reflex as rx
from reflex.istate.data import RouterData

from ticketing_app import live, readmodel
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError, NotFound
from ticketing_app.models import Ticket, utcnow
from ticketing_app.services import events, fees, watches
from ticketing_app.services.validation import price_number
from ticketing_app.state.cards import ticket_card
from ticketing_app.state.common import (
    has_next_page,
    money,
    price_input,
    signed_in_user,
    signin_redirect,
)
from ticketing_app.state.event_args import form_fields
from ticketing_app.state.snapshot import PageState, assign

PAGE_SIZE = 6


def event_card(summary: events.EventSummary) -> dict[str, Any]:
    """Event JSON plus the strings the pages print."""
    view = summary.view()
    count = view["ticketsAvailable"]
    # The cheapest ticket's all-in price (what the buyer would pay, fee included).
    lowest = summary.lowest_price_cents
    lowest = None if lowest is None else price_number(fees.all_in_cents(lowest))
    return {
        **view,
        "whereText": f"{view['venue']} · {view['city']}",
        "countText": (
            "No tickets available"
            if not count
            else f"{count} ticket available"
            if count == 1
            else f"{count} tickets available"
        ),
        "fromText": f"from {money(lowest)}" if lowest is not None else "",
        "started": summary.event.starts_at <= utcnow(),
    }


def face_value_text(ticket: Ticket) -> str:
    """ "Face value $100.00 · 10% mark-up" ("" when the seller did not state it)."""
    if ticket.face_value_cents is None:
        return ""
    face = money(ticket.face_value_cents / 100)
    markup = round((ticket.price_cents - ticket.face_value_cents) * 100 / ticket.face_value_cents)
    if markup > 0:
        return f"Face value {face} · {markup}% mark-up"
    if markup < 0:
        return f"Face value {face} · {-markup}% below face value"
    return f"Face value {face} · at face value"


def listing_card(ticket: Ticket) -> dict[str, Any]:
    return {**ticket_card(ticket), "faceText": face_value_text(ticket)}


def _read_events(query: str, page: int) -> tuple[int, tuple[dict[str, Any], ...]]:
    offset = page * PAGE_SIZE
    if not query.strip() and offset + PAGE_SIZE <= readmodel.DEPTH and readmodel.enabled():
        # Every listed event is still to start while the read model keeps the list, so the
        # cards (their "started" flag) are right when built here, at read time.
        upcoming = readmodel.get_read_model().upcoming_events()
        total = min(upcoming.total, offset + PAGE_SIZE + events.COUNT_AHEAD)
        return total, tuple(event_card(s) for s in upcoming.items[offset : offset + PAGE_SIZE])
    with read_session() as db:
        result = events.list_events(
            db, now=utcnow(), q=query, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
    return result.total, tuple(event_card(s) for s in result.items)


class EventsState(PageState, rx.State):
    """The upcoming events on `/`: search, pages; re-read on every push of `live.EVENTS`."""

    events: list[dict[str, Any]] = rx.field(default_factory=list)
    total: int = 0
    query: str = ""
    page: int = 0
    loading: bool = True
    error: str = ""

    def _reload_live(self) -> None:
        """The same for every client showing this search and page: read once per push wave."""
        try:
            total, cards = live.shared(
                ("events", self.query, self.page), lambda: _read_events(self.query, self.page)
            )
        except DomainError as exc:
            assign(self, error=exc.message, loading=False)
            return
        if not cards and self.page > 0 and total:
            # The last page shrank under us.
            assign(self, error="", total=total, page=(total - 1) // PAGE_SIZE)
            self._reload_live()
            return
        assign(self, error="", total=total, events=[dict(card) for card in cards], loading=False)

    @rx.event
    def load(self) -> Iterator[None]:
        if self._needs_loading():
            self.loading = True
            yield
        self._start()

    def _needs_loading(self) -> bool:
        """Whether the cards are a database read away (from memory they are there at once:
        no "loading" round trip to the browser)."""
        if not self.query.strip() and self.page == 0 and readmodel.enabled():
            return readmodel.get_read_model().peek(("events",)) is None
        return True

    def _start(self, router: RouterData | None = None) -> None:
        token = (router or self.router).session.client_token
        live.watch(token, EventsState, [live.EVENTS], in_thread=False)
        self._reload_live()

    @rx.event
    def search(self, form: dict[str, Any]) -> None:
        self.query = str(form.get("event_q") or "")[: events.SEARCH_MAX]
        self.page = 0
        self._reload_live()

    @rx.event
    def clear_search(self) -> None:
        self.query, self.page = "", 0
        self._reload_live()

    @rx.event
    def next_page(self) -> None:
        if has_next_page(self.page, self.total, PAGE_SIZE):
            self.page += 1
        self._reload_live()

    @rx.event
    def prev_page(self) -> None:
        self.page = max(0, self.page - 1)
        self._reload_live()


TICKETS_SHOWN = 50


def _event_id_from_path(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _event_page(event_id: str) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The event's card and its first TICKETS_SHOWN listing cards (read model unless off).
    The listing cards are built once per change and shared; the event's card is built at read
    time ("started" depends on the clock)."""
    if not readmodel.enabled():
        with read_session() as db:
            summary, items = events.event_tickets(db, event_id, limit=TICKETS_SHOWN)
        return event_card(summary), tuple(listing_card(t) for t in items)
    model = readmodel.get_read_model()
    key = ("event-cards", event_id)

    def build() -> tuple[events.EventSummary, tuple[dict[str, Any], ...]]:
        found = model.event_tickets(event_id)
        return found.summary, tuple(listing_card(t) for t in found.items[:TICKETS_SHOWN])

    cached = model.peek(key)
    if cached is None:
        cached = model.get(key, {readmodel.event_tag(event_id.lower())}, build)
    summary, cards = cached
    return event_card(summary), cards


class EventPageState(PageState, rx.State):
    """`/events/[id]`: the event and its available tickets, cheapest first, live."""

    event: dict[str, Any] = {}
    tickets: list[dict[str, Any]] = []
    not_found: bool = False
    loading: bool = True
    # "Notify me" (SPEC §11): whether the signed-in viewer watches this event, and up to what.
    watching: bool = False
    watch_max: str = ""
    watch_error: str = ""
    watch_busy: bool = False

    @rx.var
    def sell_href(self) -> str:
        return f"/tickets/new?event={self.event.get('id', '')}"

    def _reload_live(self) -> None:
        event_id = _event_id_from_path(self.router.url.path)
        try:
            event, cards = _event_page(event_id)
        except NotFound:
            self.not_found, self.event, self.tickets, self.loading = True, {}, [], False
            return
        self.not_found = False
        self.event = event
        self.tickets = [dict(card) for card in cards]  # the state's own copy
        self.loading = False

    @rx.var
    def page_title(self) -> str:
        """The tab names the show ("Radiohead, Olympia · Ticketing"), as the server-sent
        HTML of a shared link does (api/seo.py)."""
        if self.not_found:
            return "Event not found · Ticketing"
        name = self.event.get("name")
        return f"{name}, {self.event.get('venue')} · Ticketing" if name else "Event · Ticketing"

    @rx.event
    def load(self) -> Iterator[None]:
        event_id = _event_id_from_path(self.router.url.path)
        cached = readmodel.enabled() and readmodel.get_read_model().peek(("event-cards", event_id))
        if not cached:
            self.loading = True  # from memory the cards are there at once: no round trip
            yield
        live.watch(self.router.session.client_token, EventPageState, [live.event_topic(event_id)])
        self._reload_live()
        self._read_watch(event_id)

    def _read_watch(self, event_id: str) -> None:
        self.watching, self.watch_max, self.watch_error = False, "", ""
        user = signed_in_user(self)
        if user is None:
            return
        with read_session() as db:
            mine = watches.list_watches(db, user_id=user["id"])
        found = next((w for w in mine if w["eventId"] == event_id), None)
        if found is not None:
            self.watching = True
            self.watch_max = "" if found["maxPrice"] is None else money(found["maxPrice"])

    @rx.event
    def toggle_watch(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        """Watch this event (optionally up to a price) or stop watching it; the viewer comes
        from the session cookie, never from the event's arguments."""
        fields = form_fields(form, "max_price")
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        event_id = _event_id_from_path(self.router.url.path)
        self.watch_busy, self.watch_error = True, ""
        yield
        try:
            with write_session() as db:
                if self.watching:
                    watches.unwatch_event(db, user_id=user["id"], event_id=event_id)
                else:
                    most = price_input(fields["max_price"].strip()) or None
                    watches.watch_event(
                        db, user_id=user["id"], event_id=event_id, max_price=most, now=utcnow()
                    )
        except DomainError as exc:
            self.watch_error = exc.message
        else:
            self._read_watch(event_id)
        self.watch_busy = False
