"""`/payouts`: a seller's balance (pending, available, in payout, paid out), "Request payout",
their payouts, and the ledger line by line, newest first (SPEC §12)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.connection import offline
from ticketing_app.components.layout import empty_block, loading_block, page
from ticketing_app.components.local_format import local_time, money_text
from ticketing_app.state.nav import NavState
from ticketing_app.state.payouts import PayoutsState

P = PayoutsState
FIGURES = (
    ("Pending", "pending", "Sales until 48 hours after their event"),
    ("Available", "available", "Yours to request now"),
    ("In payout", "inPayout", "Requested, on its way"),
    ("Paid out", "paidOut", "Paid to you so far"),
)


def _figure(label: str, key: str, hint: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray", weight="medium"),
            rx.text(
                money_text(P.balance[key].to(float)),
                size="6",
                weight="bold",
                data_testid=f"balance-{key}",
            ),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        width="100%",
    )


def _row(*cells: rx.Component, testid: str) -> rx.Component:
    """One line of a list: its cells side by side, wrapping on a phone (no table that would
    scroll sideways)."""
    return rx.card(
        rx.flex(*cells, wrap="wrap", gap="2", justify="between", align="center", width="100%"),
        width="100%",
        size="1",
        data_testid=testid,
    )


def _payout_row(payout: rx.Var) -> rx.Component:
    return _row(
        rx.text(local_time(payout["createdAt"].to(str)), size="2"),
        rx.text(money_text(payout["amount"].to(float)), weight="bold"),
        rx.badge(payout["statusText"]),
        rx.text(payout["reference"], size="2", class_name="user-text"),
        testid="payout-row",
    )


def _line_row(line: rx.Var) -> rx.Component:
    return _row(
        rx.vstack(
            rx.text(line["kindText"], " · ", line["bucketText"], weight="medium", size="2"),
            rx.text(
                local_time(line["createdAt"].to(str)),
                rx.cond(line["what"] != "", rx.text.span(" · ", line["what"])),
                size="1",
                color_scheme="gray",
                class_name="user-text",
            ),
            spacing="0",
        ),
        # On its own line when the label is long (a phone): still at the right, under the
        # other amounts.
        rx.text(money_text(line["amount"].to(float)), weight="bold", margin_left="auto"),
        testid="ledger-line",
    )


def _list(rows: rx.Var, row: object, label: str) -> rx.Component:
    return rx.vstack(rx.foreach(rows, row), spacing="2", width="100%", aria_label=label)


def payouts_page() -> rx.Component:
    content = rx.vstack(
        rx.grid(
            *[_figure(*f) for f in FIGURES],
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            rx.button(
                "Request payout",
                on_click=P.request_payout,
                size="3",
                loading=P.busy,
                disabled=~P.can_request | P.busy | offline,
            ),
            rx.text(
                "Pays out your whole available balance. An operator sends it and records "
                "the transfer's reference here.",
                size="2",
                color_scheme="gray",
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.cond(
            P.error != "",
            rx.callout(P.error, icon="triangle-alert", color_scheme="red", role="alert"),
        ),
        rx.heading("Your payouts", as_="h2", size="4"),
        rx.cond(
            P.payout_rows.length() > 0,
            _list(P.payout_rows, _payout_row, "Your payouts"),
            rx.text("No payouts yet.", color_scheme="gray", size="2"),
        ),
        rx.heading("Ledger", as_="h2", size="4"),
        rx.cond(
            P.lines.length() > 0,
            _list(P.lines, _line_row, "Ledger lines, newest first"),
            empty_block("wallet", "No sales yet. When a ticket you listed sells, it shows here."),
        ),
        spacing="4",
        width="100%",
    )
    return page(rx.cond(P.loading, loading_block(), content), title="Payouts")


def add_pages(app: rx.App) -> None:
    app.add_page(
        payouts_page,
        route="/payouts",
        title="Payouts · Ticketing",
        on_load=[NavState.load, PayoutsState.load],
    )
