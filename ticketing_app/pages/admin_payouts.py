"""`/admin/payouts`: the operators' payout queue — who is owed what, "Mark paid" with the
reference of the transfer made outside the platform, and the CSV export (SPEC §12).
Self-contained (its own state), so the admin console's navigation can link it."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.connection import offline
from ticketing_app.components.layout import empty_block, field_error, loading_block, page
from ticketing_app.components.local_format import local_time, money_text
from ticketing_app.state.admin_payouts import AdminPayoutsState
from ticketing_app.state.nav import NavState

A = AdminPayoutsState


def _mark_paid_form(row: rx.Var) -> rx.Component:
    payout_id = row["id"].to(str)
    return rx.form(
        rx.hstack(
            rx.el.input(type="hidden", name="payout_id", value=payout_id),
            rx.input(
                name="reference",
                placeholder="Transfer reference",
                aria_label="Reference",
                max_length=200,
                size="2",
            ),
            rx.button(
                "Mark paid",
                type="submit",
                size="2",
                loading=A.busy == payout_id,
                disabled=(A.busy != "") | offline,
            ),
            spacing="2",
            align="center",
        ),
        field_error(A.errors.get(payout_id, "")),
        on_submit=A.mark_paid,
        reset_on_submit=True,
    )


def _row(row: rx.Var) -> rx.Component:
    """One payout: who, how much, since when; "Mark paid" while requested, else its
    reference. Cells wrap on a phone (no table that would scroll sideways)."""
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.text(row["sellerEmail"], weight="medium", class_name="user-text"),
                rx.text(
                    "Requested ",
                    local_time(row["createdAt"].to(str)),
                    size="1",
                    color_scheme="gray",
                ),
                spacing="0",
            ),
            rx.text(money_text(row["amount"].to(float)), weight="bold", size="4"),
            rx.badge(row["statusText"]),
            rx.cond(
                row["open"].to(bool),
                _mark_paid_form(row),
                rx.vstack(
                    rx.text(row["reference"], size="2", class_name="user-text"),
                    rx.text("Paid ", local_time(row["paidAt"].to(str)), size="1"),
                    spacing="0",
                ),
            ),
            wrap="wrap",
            gap="3",
            justify="between",
            align="center",
            width="100%",
        ),
        width="100%",
        data_testid="queue-row",
    )


def _queue() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(A.open_count_text, size="3", data_testid="open-count"),
            rx.spacer(),
            rx.button("Download CSV", on_click=A.download_csv, variant="soft", disabled=offline),
            width="100%",
            align="center",
        ),
        rx.cond(
            A.error != "",
            rx.callout(A.error, icon="triangle-alert", color_scheme="red", role="alert"),
        ),
        rx.cond(
            A.rows.length() > 0,
            rx.vstack(
                rx.foreach(A.rows, _row), spacing="2", width="100%", aria_label="Payout queue"
            ),
            empty_block("inbox", "No payout requests yet."),
        ),
        spacing="4",
        width="100%",
    )


def admin_payouts() -> rx.Component:
    refused = rx.vstack(
        rx.callout(
            "Only operators can see this page.", icon="shield-x", color_scheme="red", role="alert"
        ),
        rx.cond(A.error != "", rx.text(A.error, color_scheme="red", data_testid="admin-error")),
    )
    return page(
        rx.cond(A.loading, loading_block(), rx.cond(A.forbidden, refused, _queue())),
        title="Payout queue",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        admin_payouts,
        route="/admin/payouts",
        title="Payout queue · Ticketing",
        on_load=[NavState.load, AdminPayoutsState.load],
    )
