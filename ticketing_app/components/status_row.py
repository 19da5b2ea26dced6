"""`status_row(row, ...)`: one row of a "my …" list (`/orders`, `/listings`): a card linking to
the item, with its title and date on the left and its price, status badge and, while one runs, a
countdown on the right."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from ticketing_app.components.badges import status_badge
from ticketing_app.components.countdown import countdown
from ticketing_app.components.layout import loading_block, page
from ticketing_app.components.local_format import local_time, money_text


def status_row(
    row: rx.Var,
    *,
    href: rx.Var,
    state: type[rx.State],
    timer_label: rx.Component,
    testid: str,
) -> rx.Component:
    """`row` is shaped by state/live_page.list_row: `title`, `dateLabel`, `dateAt`, `price`,
    `status`, `statusText`, `timerEndsAt` ("" when no countdown runs). `state` is the page's
    SignedInList: its `server_now` corrects the countdown for the client's clock, and its
    `timer_ended` settles what ran out."""
    timer = rx.hstack(
        timer_label,
        countdown(row["timerEndsAt"].to(str), state.server_now, on_expire=state.timer_ended),
        spacing="1",
        align="center",
    )
    card = rx.card(
        rx.flex(
            rx.vstack(
                rx.text(row["title"], weight="medium", size="3", class_name="user-text"),
                rx.text(
                    row["dateLabel"],
                    " ",
                    local_time(row["dateAt"]),
                    row["detail"],
                    size="1",
                    color_scheme="gray",
                ),
                rx.cond(
                    row["note"] != "",
                    rx.text(row["note"], size="1", color_scheme="amber", data_testid="row-note"),
                ),
                spacing="1",
                class_name="user-text",
            ),
            rx.spacer(),
            rx.hstack(
                rx.text(money_text(row["price"]), weight="bold"),
                status_badge(row["status"], row["statusText"]),
                rx.cond(row["timerEndsAt"] != "", timer),
                spacing="3",
                align="center",
            ),
            align="center",
            wrap="wrap",
            gap="3",
        ),
        width="100%",
    )
    return rx.link(
        card,
        href=href,
        underline="none",
        high_contrast=True,
        data_testid=testid,
        width="100%",
        display="block",
    )


def status_list_page(
    state: type[rx.State],
    row: Callable[[rx.Var], rx.Component],
    *,
    title: str,
    empty: rx.Component,
) -> rx.Component:
    """A signed-in "my …" page: loading, then the state's `rows` as status rows, or `empty`."""
    return page(
        rx.cond(
            state.loading,
            loading_block(),
            rx.cond(
                state.rows.length() > 0,
                rx.vstack(rx.foreach(state.rows, row), spacing="3", width="100%"),
                empty,
            ),
        ),
        title=title,
    )
