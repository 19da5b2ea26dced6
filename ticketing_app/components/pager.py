"""A list's pager ("Previous · Page 2 of 5 · Next"), worked out in the browser from the page's
`page` (from 0) and `total`: no computed vars on the backend, which Reflex would evaluate and
send in every new tab's first snapshot and every push (issue 19)."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventType


def pager(
    page: rx.Var[int],
    total: rx.Var[int],
    page_size: int,
    *,
    on_prev: EventType[()],
    on_next: EventType[()],
    labels: tuple[str, str] = ("Previous", "Next"),
    disabled: rx.Var[bool] | bool = False,
    margin_top: str = "1.5rem",
) -> rx.Component:
    """Shown when there is more than one page; `disabled` turns both buttons off (offline)."""
    pages = (total + (page_size - 1)) // page_size
    return rx.cond(
        total > page_size,
        rx.hstack(
            rx.button(
                rx.icon("chevron-left", size=16),
                labels[0],
                on_click=on_prev,
                disabled=(page <= 0) | disabled,
                variant="soft",
            ),
            rx.text("Page ", page + 1, " of ", pages, size="2", color_scheme="gray"),
            rx.button(
                labels[1],
                rx.icon("chevron-right", size=16),
                on_click=on_next,
                disabled=((page + 1) * page_size >= total) | disabled,
                variant="soft",
            ),
            justify="center",
            align="center",
            spacing="4",
            margin_top=margin_top,
            width="100%",
        ),
    )
