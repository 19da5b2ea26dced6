"""The marketplace (`/`): tickets for sale, search, sort, pages; refreshed by live pushes."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import reflex as rx
from reflex.istate.data import RouterData
from reflex_base.event.processor.base_state_processor import chain_updates
from reflex_base.utils.format import format_event_handler

from ticketing_app import live, readmodel
from ticketing_app.db import read_session
from ticketing_app.errors import DomainError
from ticketing_app.services import listings, tickets
from ticketing_app.state.cards import market_card
from ticketing_app.state.common import has_next_page, server_now
from ticketing_app.state.event_args import form_fields
from ticketing_app.state.live_page import expire_if_due
from ticketing_app.state.snapshot import PageState, assign

PAGE_SIZE = 12
QUERY_MAX = 120
SEARCH_INPUT_ID = "market-search"


def view_url(query: str, sort: str, page: int) -> str:
    """The address of one view of `/`; defaults are left out (`/` is the first page, newest)."""
    params = {"q": query, "sort": sort if sort != "newest" else "", "page": page + 1}
    kept = {k: v for k, v in params.items() if v and not (k == "page" and v == 1)}
    return "/" + ("?" + urlencode(kept, quote_via=quote) if kept else "")


# The order list_tickets gives each sort, to merge two of its pages into one.
def _merged(items: list[Any], sort: str) -> list[Any]:
    items = sorted(items, key=lambda t: (t.created_at, t.id), reverse=True)
    if sort == "price_asc":
        items.sort(key=lambda t: t.price_cents)
    elif sort == "price_desc":
        items.sort(key=lambda t: t.price_cents, reverse=True)
    return items


# A search also shows what is reserved right now (it may come back); pages of it are merged
# from two reads of the first (page + 1) * PAGE_SIZE, so a search pages up to MAX_LIMIT.
SEARCH_PAGES = tickets.MAX_LIMIT // PAGE_SIZE


def _read_page(query: str, sort: str, page: int) -> tuple[int, tuple[dict[str, Any], ...], bool]:
    """(total, the page's cards, whether total is capped at what a search can page through)."""
    default_view = not query.strip() and sort == "newest"
    if default_view and (page + 1) * PAGE_SIZE <= readmodel.DEPTH and readmodel.enabled():
        return _market_cards(page)
    with read_session() as db:
        if not query.strip():
            result = tickets.list_tickets(
                db, q=query, sort=sort, limit=PAGE_SIZE, offset=page * PAGE_SIZE
            )
            return result.total, tuple(market_card(t) for t in result.items), False
        page = min(page, SEARCH_PAGES - 1)
        reads = [
            tickets.list_tickets(
                db, status=status, q=query, sort=sort, limit=(page + 1) * PAGE_SIZE
            )
            for status in ("available", "reserved")
        ]
        items = _merged([t for r in reads for t in r.items], sort)
        items = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        holds = listings.hold_expiries(
            db, ticket_ids=[t.id for t in items if t.status == "reserved"]
        )
        total = sum(r.total for r in reads)
        cap = SEARCH_PAGES * PAGE_SIZE
        cards = tuple(market_card(t, holds.get(t.id)) for t in items)
        return min(total, cap), cards, total > cap


def _in_memory(query: str, sort: str, page: int) -> bool:
    """Whether `_read_page` would answer from the read model without a database read."""
    if query.strip() or sort != "newest" or not readmodel.enabled():
        return False
    return readmodel.get_read_model().peek(("market-cards", page)) is not None


def _market_cards(page: int) -> tuple[int, tuple[dict[str, Any], ...], bool]:
    """The default view's page from the read model (cards built once per change, shared)."""
    model = readmodel.get_read_model()
    offset = page * PAGE_SIZE

    def build() -> tuple[int, tuple[dict[str, Any], ...], bool]:
        market = model.market_tickets()
        items = market.items[offset : offset + PAGE_SIZE]
        total = min(market.total, offset + PAGE_SIZE + tickets.COUNT_AHEAD)
        return total, tuple(market_card(t) for t in items), False

    found = model.peek(("market-cards", page))
    if found is not None:
        return found
    return model.get(("market-cards", page), {readmodel.TICKETS}, build)


class MarketState(PageState, rx.State):
    tickets: list[dict[str, Any]] = rx.field(default_factory=list)
    total: int = 0
    query: str = ""
    sort: str = "newest"
    page: int = 0
    loading: bool = True
    error: str = ""
    capped: bool = False  # a search with more matches than it pages through
    server_now: str = ""  # the server's clock when the cards were read (for the countdowns)

    def _reload_live(self) -> None:
        """Re-read the current page (called on load and by live pushes). The same for every
        client showing this search/sort/page, so a push wave reads it once (`live.shared`)."""
        try:
            total, cards, capped = live.shared(
                ("market", self.query, self.sort, self.page),
                lambda: _read_page(self.query, self.sort, self.page),
            )
        except DomainError as exc:
            assign(self, error=exc.message, loading=False)
            return
        if not cards and self.page > 0 and total:
            # The last page shrank under us.
            assign(self, error="", total=total, capped=capped, page=(total - 1) // PAGE_SIZE)
            self._reload_live()
            return
        assign(
            self,
            error="",
            total=total,
            capped=capped,
            tickets=[dict(card) for card in cards],  # a state's own copy of the shared read
            server_now=server_now(),
            loading=False,
        )

    def _from_url(self, router: RouterData) -> tuple[str, str, int]:
        """(q, sort, page) from `/?q=…&sort=…&page=…` (page counts from 1 there); anything
        unusable falls back to the default view."""
        params = router.url.query_parameters
        query = str(params.get("q") or "").strip()[:QUERY_MAX]
        sort = str(params.get("sort") or "newest")
        page = str(params.get("page") or "1")
        number = int(page) if page.isdigit() and len(page) <= 6 else 1
        return query, sort if sort in tickets.SORTS else "newest", max(1, number) - 1

    @rx.event
    def load(self) -> Iterator[None]:
        """on_load of `/`, also for every change of its query string (search, sort, page,
        Back/Forward) and on a reconnect."""
        if self._prepare():
            self.loading = True
            yield
        self._start()

    async def _load_in_event(self, router: RouterData, *, flush_loading: bool) -> None:
        """The page's load (the navbar's cookie check, the events, the first page of tickets)
        inside the event that shows `/`: the boot event or a navigation (`LoadInTheEvent`).
        With `flush_loading`, a view that is a database read away first shows "loading".
        `router`: the event's (Reflex assembles a new one on each `state.router` read)."""
        from ticketing_app.state.events import EventsState
        from ticketing_app.state.nav import NavState

        nav = await self.get_state(NavState)
        events_state = await self.get_state(EventsState)
        nav._refresh(router)
        slow_events, slow_tickets = events_state._needs_loading(), self._prepare(router)
        if flush_loading and (slow_events or slow_tickets):
            events_state.loading = events_state.loading or slow_events
            self.loading = self.loading or slow_tickets
            await chain_updates(None, "MarketState._load_in_event", self._get_root_state())
        events_state._start(router)
        self._start(router)

    def _prepare(self, router: RouterData | None = None) -> bool:
        """Read the view from the address; whether to show "loading" first (a database read
        ahead, and no cards on screen yet: a reconnect keeps them while they are re-read)."""
        query, sort, page = self._from_url(router or self.router)
        assign(self, query=query, sort=sort, page=page)
        return not self.tickets and not _in_memory(query, sort, page)

    def _start(self, router: RouterData | None = None) -> None:
        # Every watcher of a page shares one read per push wave, so a push needs no thread.
        token = (router or self.router).session.client_token
        live.watch(token, MarketState, [live.TICKETS], in_thread=False)
        self._reload_live()

    @rx.event
    def hold_ended(self) -> None:
        """A reserved card's countdown reached zero: settle those holds now (idempotent; the
        server's clock decides), then re-read, so the ticket shows as back on sale."""
        for card in self.tickets:
            if card.get("status") == "reserved" and card.get("orderId"):
                expire_if_due(str(card["orderId"]))
        self._reload_live()

    # The controls only change the address; `load` (run for the new address) shows it, so
    # Back, reload and a shared link show the same results.

    @rx.event
    def search(self, form: dict[str, Any]) -> rx.event.EventSpec:
        self.query = form_fields(form, "q")["q"].strip()[:QUERY_MAX]  # already in the box
        return rx.redirect(view_url(self.query, self.sort, 0))

    @rx.event
    def clear_search(self) -> rx.event.EventSpec:
        self.query = ""  # the box follows the address (assets/url_search.jsx)
        return rx.redirect(view_url("", self.sort, 0))

    @rx.event
    def set_sort(self, value: str) -> rx.event.EventSpec:
        return rx.redirect(view_url(self.query, value, 0))

    @rx.event
    def next_page(self) -> rx.event.EventSpec:
        has_next = has_next_page(self.page, self.total, PAGE_SIZE)
        return rx.redirect(view_url(self.query, self.sort, self.page + int(has_next)))

    @rx.event
    def prev_page(self) -> rx.event.EventSpec:
        return rx.redirect(view_url(self.query, self.sort, max(0, self.page - 1)))


@cache
def _page_events() -> dict[str, bool]:
    """The events that show a page, by full name: the boot event (`hydrate_and_load`, sent
    once per socket (re)connect) → False, and a navigation (`on_load_internal`, also for a new
    query string) → True (it may show "loading" while the view is read)."""
    from reflex.state import OnLoadInternalState, State

    return {
        format_event_handler(State.event_handlers["hydrate_and_load"]): False,
        format_event_handler(OnLoadInternalState.event_handlers["on_load_internal"]): True,
    }


class LoadInTheEvent(rx.Middleware):
    """`/` has no on_load handler: its load runs inside the event that shows it, under that
    event's state lock, before Reflex builds its delta (docs/decisions.md 97). For the boot
    event that is the hydrate snapshot, so the first rows arrive with the state itself and the
    page is hydrated in one event, as a page without on_load is; an on_load handler is a
    chained event of its own (`on_load_internal`, the handler, `set_is_hydrated`: three state
    round trips and deltas), most of a connecting client's backend time."""

    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        flush_loading = _page_events().get(event.name)
        if flush_loading is None:
            return None
        router = state.router
        if router.url.path != "/":
            return None
        market = await state.get_state(MarketState)
        try:
            await market._load_in_event(router, flush_loading=flush_loading)
        except Exception as exc:  # noqa: BLE001 - reported like a handler's; the page still hydrates
            # As an on_load handler's exception was: the app's handler logs it and toasts, and
            # the event goes on, so the state is still sent (the page shows "loading").
            events = app.backend_exception_handler(exc)
            await chain_updates(events, "MarketState._load_in_event")
        return None
