"""`/listings`: the seller's tickets with live status and hold countdowns."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.layout import empty_block, link_button
from ticketing_app.components.status_row import status_list_page, status_row
from ticketing_app.state.listings import ListingsState
from ticketing_app.state.nav import NavState


def _row(item: rx.Var) -> rx.Component:
    return status_row(
        item,
        href="/tickets/" + item["id"].to(str),
        state=ListingsState,
        timer_label=rx.text("held for", size="2", color_scheme="gray"),
        testid="listing-row",
    )


def listings() -> rx.Component:
    return status_list_page(
        ListingsState,
        _row,
        title="My listings",
        empty=empty_block(
            "tag",
            "You have not listed any tickets yet.",
            link_button("List a ticket", "/tickets/new"),
        ),
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        listings,
        route="/listings",
        title="My listings · Ticketing",
        on_load=[NavState.load, ListingsState.load],
    )
