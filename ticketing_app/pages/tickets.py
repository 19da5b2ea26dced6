"""`/tickets/new` (list a ticket) and `/tickets/[ticket_id]` (details, buy, seller edit)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.badges import status_badge
from ticketing_app.components.confirm import confirm_button
from ticketing_app.components.connection import offline
from ticketing_app.components.layout import (
    field_error,
    labelled_input,
    loading_block,
    page,
    price_label,
)
from ticketing_app.components.local_format import local_time, money_text
from ticketing_app.state.nav import NavState
from ticketing_app.state.ticket import NewTicketState, TicketState

S = TicketState


def new_ticket() -> rx.Component:
    return page(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("List a ticket", as_="h1", size="6"),
                    rx.text(
                        "Buyers see it right away. You can edit it until someone reserves it.",
                        color_scheme="gray",
                        size="2",
                    ),
                    labelled_input(
                        "Title",
                        "title",
                        NewTicketState.title_error,
                        id="new-title",
                        placeholder="e.g. Concert, Row F seat 12",
                        max_length=120,
                    ),
                    labelled_input(
                        price_label(),
                        "price",
                        NewTicketState.price_error,
                        id="new-price",
                        placeholder="e.g. 20.00",
                        input_mode="decimal",
                    ),
                    field_error(NewTicketState.error),
                    rx.button(
                        "List ticket",
                        type="submit",
                        size="3",
                        loading=NewTicketState.busy,
                        disabled=offline,
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=NewTicketState.create,
                reset_on_submit=False,
            ),
            size="4",
            max_width="520px",
            width="100%",
        )
    )


def _buyer_panel() -> rx.Component:
    """What a visitor who is not the seller can do."""
    return rx.cond(
        S.ticket["status"] == "available",
        rx.cond(
            S.signed_in,
            rx.button(
                "Buy",
                on_click=S.buy,
                size="3",
                loading=S.busy == "buy",
                disabled=(S.busy != "") | offline,
            ),
            rx.button(
                "Sign in to buy",
                size="3",
                on_click=rx.redirect("/signin?next=/tickets/" + S.ticket["id"].to(str)),
            ),
        ),
        rx.callout(
            rx.match(
                S.ticket["status"],
                ("reserved", "Someone is buying this ticket right now. Check back soon."),
                ("sold", "This ticket has been sold."),
                "This ticket is no longer for sale.",
            ),
            icon="info",
            color_scheme="gray",
        ),
    )


def _seller_panel() -> rx.Component:
    """The seller edits or withdraws the listing while it is available, otherwise sees why not."""
    edit_form = rx.form(
        rx.vstack(
            rx.heading("Edit your listing", as_="h2", size="4"),
            labelled_input(
                "Title",
                "title",
                S.title_error,
                id="edit-title",
                default_value=S.ticket["title"].to(str),
                max_length=120,
            ),
            labelled_input(
                price_label(),
                "price",
                S.price_error,
                id="edit-price",
                default_value=S.ticket["price"].to(str),
                input_mode="decimal",
            ),
            rx.hstack(
                rx.button(
                    "Save",
                    type="submit",
                    loading=S.busy == "save",
                    disabled=(S.busy != "") | offline,
                ),
                confirm_button(
                    "Cancel listing",
                    title="Cancel this listing?",
                    description=rx.text(
                        "“",
                        S.ticket["title"],
                        "” comes off sale at once and buyers can no longer find it. "
                        "This cannot be undone: to sell it again, list it anew.",
                    ),
                    confirm_label="Yes, cancel listing",
                    keep_label="Keep listing",
                    on_confirm=S.cancel_listing,
                    loading=S.busy == "cancel",
                    disabled=(S.busy != "") | offline,
                ),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save,
        reset_on_submit=False,
        key=S.ticket["version"].to(str),
        width="100%",
    )
    return rx.cond(
        S.ticket["status"] == "available",
        edit_form,
        rx.callout(S.why_not_editable, icon="lock", color_scheme="amber", data_testid="why-not"),
    )


def ticket_detail() -> rx.Component:
    found = rx.card(
        rx.vstack(
            rx.hstack(
                status_badge(S.ticket["status"], S.ticket["status"].to(str).upper()),
                rx.cond(S.is_seller, rx.badge("Your listing", variant="outline")),
                spacing="2",
            ),
            rx.heading(S.ticket["title"], as_="h1", size="7", class_name="user-text"),
            rx.text(
                money_text(S.ticket["price"]), size="8", weight="bold", color="var(--accent-11)"
            ),
            rx.text("Listed ", local_time(S.ticket["createdAt"]), size="2", color_scheme="gray"),
            rx.cond(
                S.error != "",
                rx.callout(S.error, icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            rx.divider(),
            rx.cond(S.is_seller, _seller_panel(), _buyer_panel()),
            spacing="4",
            width="100%",
        ),
        size="4",
        max_width="640px",
        width="100%",
    )
    missing = rx.callout(
        "Ticket not found. It may have been removed.",
        icon="circle-x",
        color_scheme="gray",
    )
    return page(
        rx.link("← All tickets", href="/", size="2", margin_bottom="1rem", display="inline-block"),
        rx.cond(S.loading, loading_block(), rx.cond(S.not_found, missing, found)),
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        new_ticket,
        route="/tickets/new",
        title="List a ticket · Ticketing",
        on_load=[NavState.load, NewTicketState.load],
    )
    app.add_page(
        ticket_detail,
        route="/tickets/[ticket_id]",
        title=TicketState.page_title,
        on_load=[NavState.load, TicketState.load],
    )
