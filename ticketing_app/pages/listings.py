"""`/listings`: the seller's tickets with live status and hold countdowns."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.badges import status_badge
from ticketing_app.components.countdown import countdown
from ticketing_app.components.layout import empty_block, loading_block, page
from ticketing_app.state.listings import ListingsState
from ticketing_app.state.nav import NavState


def _row(item: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.text(item["title"], weight="medium", size="3"),
                    rx.text("Listed ", item["listedAt"], size="1", color_scheme="gray"),
                    spacing="1",
                ),
                rx.spacer(),
                rx.hstack(
                    rx.text(item["priceText"], weight="bold"),
                    status_badge(item["status"], item["statusText"]),
                    rx.cond(
                        (item["status"] == "reserved") & (item["holdExpiresAt"] != ""),
                        rx.hstack(
                            rx.text("held for", size="2", color_scheme="gray"),
                            countdown(
                                item["holdExpiresAt"].to(str),
                                ListingsState.server_now,
                                on_expire=ListingsState.timer_ended,
                            ),
                            spacing="1",
                            align="center",
                        ),
                    ),
                    spacing="3",
                    align="center",
                ),
                align="center",
                wrap="wrap",
                gap="3",
            ),
            width="100%",
        ),
        href="/tickets/" + item["id"].to(str),
        underline="none",
        high_contrast=True,
        data_testid="listing-row",
        width="100%",
        display="block",
    )


def listings() -> rx.Component:
    return page(
        rx.cond(
            ListingsState.loading,
            loading_block(),
            rx.cond(
                ListingsState.listings.length() > 0,
                rx.vstack(rx.foreach(ListingsState.listings, _row), spacing="3", width="100%"),
                empty_block(
                    "tag",
                    "You have not listed any tickets yet.",
                    rx.link(rx.button("List a ticket", tab_index=-1), href="/tickets/new"),
                ),
            ),
        ),
        title="My listings",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        listings,
        route="/listings",
        title="My listings · Ticketing",
        on_load=[NavState.load, ListingsState.load],
    )
