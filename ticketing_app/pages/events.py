"""Events (SPEC §9): the front door's "Upcoming events" section (on `/`, above the ticket
list) and `/events/[id]`: the event and its tickets, cheapest first, live."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.connection import offline
from ticketing_app.components.layout import empty_block, loading_block, page
from ticketing_app.components.local_time import local_time
from ticketing_app.components.pager import pager
from ticketing_app.state.events import PAGE_SIZE as EVENTS_PAGE_SIZE
from ticketing_app.state.events import EventPageState, EventsState
from ticketing_app.state.nav import NavState

E = EventPageState


def _event_card(event: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.text(
                    local_time(event["startsAt"].to(str), data_testid="event-start"),
                    size="2",
                    weight="medium",
                    color="var(--accent-11)",
                ),
                rx.heading(event["name"], size="4", weight="medium", trim="both"),
                rx.text(event["whereText"], size="2", color_scheme="gray"),
                rx.hstack(
                    rx.text(event["countText"], size="2", data_testid="event-count"),
                    rx.spacer(),
                    rx.text(event["fromText"], size="3", weight="bold", data_testid="event-from"),
                    width="100%",
                    align="center",
                ),
                spacing="2",
                align="start",
                width="100%",
            ),
            size="2",
            width="100%",
            height="100%",
        ),
        href="/events/" + event["id"].to(str),
        underline="none",
        high_contrast=True,
        data_testid="event-card",
        width="100%",
        display="block",
    )


def _search() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                name="event_q",
                placeholder="Search events, venues, cities",
                aria_label="Search events",
                default_value=EventsState.query,
                size="3",
                width="100%",
                type="search",
            ),
            rx.button("Find events", type="submit", size="3", variant="soft"),
            width="100%",
        ),
        on_submit=EventsState.search,
        reset_on_submit=False,
        width="100%",
        margin_bottom="1rem",
    )


def _pager() -> rx.Component:
    return pager(
        EventsState.page,
        EventsState.total,
        EVENTS_PAGE_SIZE,
        on_prev=EventsState.prev_page,
        on_next=EventsState.next_page,
        labels=("Earlier", "Later"),
        margin_top="1rem",
    )


def events_section() -> rx.Component:
    """Upcoming events, soonest first, with how many tickets and from what price."""
    results = rx.cond(
        EventsState.loading,
        loading_block(),
        rx.cond(
            EventsState.events.length() > 0,
            rx.grid(
                rx.foreach(EventsState.events, _event_card),
                columns=rx.breakpoints(initial="1", sm="2", md="3"),
                spacing="4",
                width="100%",
            ),
            rx.cond(
                EventsState.query != "",
                empty_block(
                    "search-x",
                    "No upcoming events match your search.",
                    rx.button("Show all events", on_click=EventsState.clear_search, variant="soft"),
                ),
                empty_block("calendar", "No upcoming events yet."),
            ),
        ),
    )
    return rx.box(
        rx.heading("Upcoming events", size="7", margin_bottom="0.25rem"),
        rx.text(
            "Find tickets for the show, not for a title.",
            color_scheme="gray",
            size="2",
            margin_bottom="1rem",
        ),
        rx.cond(
            EventsState.error != "",
            rx.callout(EventsState.error, color_scheme="red", margin_bottom="1rem"),
        ),
        _search(),
        results,
        _pager(),
        as_="section",
        aria_label="Upcoming events",
        margin_bottom="2.5rem",
        width="100%",
    )


def _ticket_row(ticket: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.text(ticket["title"], weight="medium", size="3"),
                    rx.cond(
                        ticket["faceText"] != "",
                        rx.text(ticket["faceText"], size="1", color_scheme="gray"),
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.text(
                    ticket["priceText"],
                    size="5",
                    weight="bold",
                    color="var(--accent-11)",
                    data_testid="event-ticket-price",
                ),
                align="center",
                gap="3",
                wrap="wrap",
            ),
            width="100%",
        ),
        href="/tickets/" + ticket["id"].to(str),
        underline="none",
        high_contrast=True,
        data_testid="event-ticket",
        width="100%",
        display="block",
    )


def _watch_form() -> rx.Component:
    """ "Notify me" when a ticket is listed (at most a price, if given); "Watching" after."""
    return rx.form(
        rx.hstack(
            rx.cond(
                E.watching,
                rx.text(
                    rx.icon("bell-ring", size=14, display="inline", margin_right="0.3rem"),
                    "Watching",
                    rx.cond(E.watch_max != "", " (up to " + E.watch_max + ")", ""),
                    size="2",
                    data_testid="watching",
                ),
                rx.el.label(
                    "Up to",
                    rx.input(
                        name="max_price",
                        placeholder="any price",
                        input_mode="decimal",
                        size="2",
                        width="8rem",
                        id="watch-max-price",
                    ),
                    style={"display": "flex", "gap": "0.4rem", "alignItems": "center"},
                ),
            ),
            rx.button(
                rx.cond(E.watching, "Stop watching", "Notify me"),
                type="submit",
                variant="soft",
                loading=E.watch_busy,
                disabled=offline,
            ),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        rx.cond(E.watch_error != "", rx.text(E.watch_error, color_scheme="red", size="2")),
        on_submit=E.toggle_watch,
        reset_on_submit=True,
    )


def event_detail() -> rx.Component:
    header = rx.card(
        rx.vstack(
            rx.cond(
                E.event["status"] == "cancelled",
                rx.badge("Cancelled", color_scheme="red"),
                rx.cond(E.event["started"], rx.badge("Started", color_scheme="gray")),
            ),
            rx.heading(E.event["name"], size="8", as_="h1"),
            rx.text(
                local_time(E.event["startsAt"].to(str), data_testid="event-start"),
                size="4",
                weight="medium",
                color="var(--accent-11)",
            ),
            rx.text(E.event["whereText"], size="3", color_scheme="gray"),
            rx.hstack(
                rx.text(E.event["countText"], size="2", data_testid="event-count"),
                rx.text(E.event["fromText"], size="2", weight="bold", data_testid="event-from"),
                spacing="3",
            ),
            rx.link(
                rx.button(rx.icon("tag", size=16), "Sell a ticket for this event", tab_index=-1),
                href=E.sell_href,
            ),
            _watch_form(),
            spacing="3",
        ),
        size="4",
        width="100%",
        margin_bottom="1.5rem",
    )
    found = rx.box(
        header,
        rx.heading("Tickets, cheapest first", size="5", margin_bottom="0.75rem"),
        rx.cond(
            E.tickets.length() > 0,
            rx.vstack(rx.foreach(E.tickets, _ticket_row), spacing="3", width="100%"),
            empty_block("ticket", "No tickets for sale for this event right now."),
        ),
    )
    missing = rx.callout("Event not found.", icon="circle-x", color_scheme="gray")
    return page(
        rx.link("← All events", href="/", size="2", margin_bottom="1rem", display="inline-block"),
        rx.cond(E.loading, loading_block(), rx.cond(E.not_found, missing, found)),
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        event_detail,
        route="/events/[id]",
        title=EventPageState.page_title,
        on_load=[NavState.load, EventPageState.load],
    )
