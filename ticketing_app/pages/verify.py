"""`/verify/[id]`: whether an e-ticket is valid, and for whom (masked)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.layout import loading_block, page
from ticketing_app.state.nav import NavState
from ticketing_app.state.verify import VerifyState as V


def verify_page() -> rx.Component:
    valid = rx.callout(
        rx.vstack(
            rx.heading("Valid ticket ✓", size="5"),
            rx.cond(V.result["eventName"] != "", rx.text(V.result["eventName"], weight="bold")),
            rx.cond(V.result["eventWhere"] != "", rx.text(V.result["eventWhere"], size="2")),
            rx.text(V.result["title"]),
            rx.text("Holder: ", rx.text.strong(V.result["holder"]), data_testid="verify-holder"),
            spacing="1",
        ),
        icon="circle-check",
        color_scheme="green",
        data_testid="verify-valid",
    )
    invalid = rx.callout(
        V.not_valid, icon="circle-x", color_scheme="red", role="alert", data_testid="verify-invalid"
    )
    return page(
        rx.cond(V.loading, loading_block(), rx.cond(V.not_valid != "", invalid, valid)),
        title="Ticket check",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        verify_page,
        route="/verify/[id]",
        title="Ticket check · Ticketing",
        on_load=[NavState.load, V.load],
    )
