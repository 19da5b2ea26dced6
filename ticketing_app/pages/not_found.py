"""The app's own not-found page (Reflex's `404` route): navbar, a plain message, ways on.

The one-port production server answers unknown paths with this page and HTTP 404 (Reflex's
static mount keeps 404 for paths that match no route)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.layout import link_button, page
from ticketing_app.state.nav import NavState


def not_found() -> rx.Component:
    return page(
        rx.card(
            rx.vstack(
                rx.icon("map-pin-off", size=36, color="var(--gray-11)", aria_hidden="true"),
                rx.heading("Page not found", as_="h1", size="7"),
                rx.text(
                    "There is nothing at this address. It may have been mistyped, "
                    "or the page has moved.",
                    color_scheme="gray",
                    size="3",
                ),
                link_button("Browse tickets", "/", size="3"),
                align="center",
                spacing="4",
                padding="2rem",
                text_align="center",
            ),
            max_width="560px",
            width="100%",
            margin="2rem auto 0",
        ),
        data_testid="not-found",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        not_found,
        route="404",
        title="Page not found · Ticketing",
        on_load=NavState.load,
    )
