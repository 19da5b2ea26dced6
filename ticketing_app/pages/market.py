"""`/`: tickets for sale, newest first, with search, sort, pagination; live."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.badges import status_badge
from ticketing_app.components.connection import offline
from ticketing_app.components.countdown import countdown
from ticketing_app.components.layout import empty_block, link_button, loading_block, page
from ticketing_app.components.local_format import local_time, money_text
from ticketing_app.components.pager import pager
from ticketing_app.pages.events import events_section
from ticketing_app.state.market import PAGE_SIZE, SEARCH_INPUT_ID, MarketState


class UrlSearchSync(rx.Component):
    """assets/url_search.jsx: the search box shows the address's `q` (Back, links, Clear)."""

    library = "$/public/url_search.jsx"
    tag = "UrlSearchSync"

    input_id: rx.Var[str]
    param: rx.Var[str]


def _hold_timer(ticket: rx.Var) -> rx.Component:
    """How long the reservation on a reserved card still holds it (it may come back)."""
    return rx.hstack(
        rx.text("held", size="1", color_scheme="gray"),
        countdown(
            ticket["holdEndsAt"].to(str),
            MarketState.server_now,
            expired_text="ending",
            on_expire=MarketState.hold_ended,
            font_size="var(--font-size-1)",
        ),
        spacing="1",
        align="center",
        data_testid="hold-timer",
    )


def _ticket_card(ticket: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.hstack(
                    status_badge(
                        ticket["status"],
                        rx.cond(ticket["status"] == "reserved", "Reserved", "For sale"),
                    ),
                    rx.cond(ticket["holdEndsAt"] != "", _hold_timer(ticket)),
                    rx.spacer(),
                    rx.text(local_time(ticket["createdAt"]), size="1", color_scheme="gray"),
                    width="100%",
                    align="center",
                ),
                rx.heading(
                    ticket["title"],
                    size="4",
                    weight="medium",
                    trim="both",
                    as_="h2",
                    class_name="user-text",
                ),
                rx.hstack(
                    rx.text(
                        money_text(ticket["total"]),
                        size="6",
                        weight="bold",
                        color="var(--accent-11)",
                        data_testid="card-price",
                    ),
                    rx.cond(
                        ticket["feeIncluded"],
                        rx.text("incl. fees", size="1", color_scheme="gray"),
                    ),
                    spacing="2",
                    align="baseline",
                ),
                spacing="3",
                align="start",
            ),
            size="2",
            width="100%",
            height="100%",
            class_name="ticket-card",
        ),
        href="/tickets/" + ticket["id"].to(str),
        underline="none",
        high_contrast=True,
        data_testid="ticket-card",
        width="100%",
        display="block",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.form(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    name="q",
                    id=SEARCH_INPUT_ID,
                    placeholder="Search by title",
                    aria_label="Search by title",
                    default_value=MarketState.query,
                    size="3",
                    width="100%",
                    type="search",
                ),
                rx.button("Search", type="submit", size="3", variant="soft", disabled=offline),
                UrlSearchSync.create(input_id=SEARCH_INPUT_ID, param="q"),
                width="100%",
            ),
            on_submit=MarketState.search,
            reset_on_submit=False,
            flex="1",
            min_width="240px",
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Sort by", placeholder="Sort"),
            rx.select.content(
                rx.select.item("Newest first", value="newest"),
                rx.select.item("Price: low to high", value="price_asc"),
                rx.select.item("Price: high to low", value="price_desc"),
            ),
            value=MarketState.sort,
            on_change=MarketState.set_sort,
            size="3",
        ),
        gap="3",
        wrap="wrap",
        width="100%",
        margin_bottom="1.25rem",
    )


def _pager() -> rx.Component:
    return pager(
        MarketState.page,
        MarketState.total,
        PAGE_SIZE,
        on_prev=MarketState.prev_page,
        on_next=MarketState.next_page,
        disabled=offline,
    )


def _capped_note() -> rx.Component:
    return rx.cond(
        MarketState.capped,
        rx.text(
            "Showing the first ",
            MarketState.total,
            " matches. Add a word to your search to narrow it down.",
            size="2",
            color_scheme="gray",
            align="center",
            margin_top="1rem",
        ),
    )


def _results() -> rx.Component:
    return rx.cond(
        MarketState.loading,
        loading_block(),
        rx.cond(
            MarketState.tickets.length() > 0,
            rx.grid(
                rx.foreach(MarketState.tickets, _ticket_card),
                columns=rx.breakpoints(initial="1", sm="2", md="3"),
                spacing="4",
                width="100%",
            ),
            rx.cond(
                MarketState.query != "",
                empty_block(
                    "search-x",
                    "No tickets match your search.",
                    rx.button("Clear search", on_click=MarketState.clear_search, variant="soft"),
                ),
                empty_block(
                    "ticket",
                    "No tickets for sale right now.",
                    link_button("List a ticket", "/tickets/new"),
                ),
            ),
        ),
    )


def index() -> rx.Component:
    return page(
        events_section(),  # SPEC §9: the front door; the ticket list stays below
        rx.vstack(
            rx.heading("Tickets for sale", as_="h1", size="7"),
            rx.text(
                MarketState.total,
                rx.cond(
                    MarketState.query != "",
                    rx.cond(MarketState.total == 1, " ticket matches", " tickets match"),
                    rx.cond(MarketState.total == 1, " ticket available", " tickets available"),
                ),
                color_scheme="gray",
                size="2",
            ),
            spacing="1",
            margin_bottom="1.25rem",
        ),
        rx.cond(
            MarketState.error != "",
            rx.callout(MarketState.error, color_scheme="red", margin_bottom="1rem"),
        ),
        _toolbar(),
        _results(),
        _pager(),
        _capped_note(),
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        index,
        route="/",
        # "“rock”: tickets · Ticketing" for a search, worked out in the browser (no computed
        # var: state/snapshot.py).
        title=rx.cond(
            MarketState.query != "",
            "“" + MarketState.query + "”: tickets · Ticketing",
            "Tickets for sale · Ticketing",
        ),
        # No on_load: the navbar's, the events' and the tickets' loads run inside the event
        # that shows the page (state/market.LoadInTheEvent, installed in ticketing_app.py).
    )
