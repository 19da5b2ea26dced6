"""The marketplace (`/`): tickets for sale, search, sort, pages; refreshed by live pushes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session
from ticketing_app.errors import DomainError
from ticketing_app.services import tickets
from ticketing_app.services.views import ticket_view
from ticketing_app.state.common import display_time, money
from ticketing_app.state.event_args import form_fields

PAGE_SIZE = 12


def ticket_card(ticket: Any) -> dict[str, Any]:
    """ticket_view plus the strings the page prints."""
    view = ticket_view(ticket)
    return {**view, "priceText": money(view["price"]), "listedAt": display_time(view["createdAt"])}


def _read_page(query: str, sort: str, page: int) -> tuple[int, tuple[dict[str, Any], ...]]:
    with read_session() as db:
        result = tickets.list_tickets(
            db, q=query, sort=sort, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
        return result.total, tuple(ticket_card(t) for t in result.items)


class MarketState(rx.State):
    tickets: list[dict[str, Any]] = []
    total: int = 0
    query: str = ""
    sort: str = "newest"
    page: int = 0
    loading: bool = True
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def has_prev(self) -> bool:
        return self.page > 0

    @rx.var
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total

    def _reload_live(self) -> None:
        """Re-read the current page (called on load and by live pushes). The same for every
        client showing this search/sort/page, so a push wave reads it once (`live.shared`)."""
        try:
            total, cards = live.shared(
                ("market", self.query, self.sort, self.page),
                lambda: _read_page(self.query, self.sort, self.page),
            )
        except DomainError as exc:
            self.error = exc.message
            self.loading = False
            return
        self.error = ""
        self.total = total
        if not cards and self.page > 0 and total:
            self.page = (total - 1) // PAGE_SIZE  # the last page shrank under us
            self._reload_live()
            return
        self.tickets = [dict(card) for card in cards]  # a state's own copy of the shared read
        self.loading = False

    @rx.event
    def load(self) -> Iterator[None]:
        self.loading = True
        yield
        # Every watcher of a page shares one read per push wave, so a push needs no thread.
        live.watch(self.router.session.client_token, MarketState, [live.TICKETS], in_thread=False)
        self._reload_live()

    @rx.event
    def search(self, form: dict[str, Any]) -> None:
        self.query = form_fields(form, "q")["q"][:120]
        self.page = 0
        self._reload_live()

    @rx.event
    def clear_search(self) -> None:
        self.query = ""
        self.page = 0
        self._reload_live()

    @rx.event
    def set_sort(self, value: str) -> None:
        self.sort = value if value in tickets.SORTS else "newest"
        self.page = 0
        self._reload_live()

    @rx.event
    def next_page(self) -> None:
        if self.has_next:
            self.page += 1
        self._reload_live()

    @rx.event
    def prev_page(self) -> None:
        self.page = max(0, self.page - 1)
        self._reload_live()
