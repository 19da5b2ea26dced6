"""`/tickets/new` (list a ticket) and `/tickets/[id]` (details, buy, seller edit)."""

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
from ticketing_app.models import TicketStatus
from ticketing_app.pages.ticket_file import ticket_dropzone, ticket_file_panel
from ticketing_app.state.nav import NavState
from ticketing_app.state.ticket import NEW_UPLOAD_ID, NewTicketState, TicketState
from ticketing_app.state.ticket_file import TicketFileState

S = TicketState


N = NewTicketState


def _suggestion(event: rx.Var) -> rx.Component:
    return rx.button(
        rx.vstack(
            rx.text(event["name"], weight="medium"),
            rx.text(
                event["whereText"],
                " · ",
                local_time(event["startsAt"].to(str)),
                size="1",
                color_scheme="gray",
            ),
            spacing="0",
            align="start",
        ),
        type="button",
        variant="ghost",
        on_click=N.pick_event(event["id"].to(str)),
        width="100%",
        justify="start",
        height="auto",
        padding="0.5rem",
        role="option",
        aria_label=event["name"].to(str) + ", " + event["whereText"].to(str),
        data_testid="event-suggestion",
    )


def _event_picker() -> rx.Component:
    """ "Event": search as you type among upcoming events; or name a new one below."""
    chosen = rx.callout(
        rx.hstack(
            rx.vstack(
                rx.text("Selling for ", rx.text.strong(N.chosen["name"])),
                rx.text(
                    N.chosen["whereText"],
                    " · ",
                    local_time(N.chosen["startsAt"].to(str)),
                    size="1",
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.button("Change event", type="button", variant="soft", on_click=N.clear_event),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        icon="calendar-check",
        color_scheme="green",
        data_testid="chosen-event",
        width="100%",
    )
    new_event = rx.vstack(
        rx.text(
            "Not in the list? Name it with its venue, city and start to add it.",
            size="1",
            color_scheme="gray",
        ),
        rx.grid(
            labelled_input("Venue", "venue", N.errors.get("venue", ""), id="new-venue"),
            labelled_input("City", "city", N.errors.get("city", ""), id="new-city"),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        labelled_input(
            "Starts at",
            "starts_at",
            N.errors.get("starts_at", ""),
            id="new-starts-at",
            type="datetime-local",
        ),
        spacing="3",
        width="100%",
    )
    return rx.vstack(
        labelled_input(
            "Event",
            "event",
            N.errors.get("event", ""),
            id="new-event",
            placeholder="Search upcoming events, or name a new one",
            value=N.event_query,
            on_change=N.search_events.debounce(250),
            auto_complete="off",
            max_length=120,
            read_only=N.has_chosen,
        ),
        rx.cond(
            N.has_chosen,
            chosen,
            rx.vstack(
                rx.cond(
                    N.suggestions.length() > 0,
                    rx.card(
                        rx.vstack(rx.foreach(N.suggestions, _suggestion), spacing="1"),
                        role="listbox",
                        aria_label="Matching events",
                        width="100%",
                    ),
                ),
                new_event,
                spacing="3",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
    )


def _file_field() -> rx.Component:
    """ "Ticket file (optional)": picked or dropped here, sent with the listing (checked before
    anything is listed); it can also be attached later on the ticket page."""
    chosen = rx.selected_files(NEW_UPLOAD_ID)
    # No on_drop: the default keeps the chosen file for the submit (rx.selected_files).
    dropzone = ticket_dropzone(NEW_UPLOAD_ID, "new-ticket-file-drop", on_drop_rejected=N.refused)
    return rx.vstack(
        rx.text("Ticket file (optional)", weight="medium", size="2"),
        dropzone,
        rx.cond(
            chosen.length() > 0,
            rx.hstack(
                rx.text("Will be attached: ", rx.text.strong(chosen[0]), size="2"),
                rx.button(
                    "Remove",
                    type="button",
                    variant="ghost",
                    size="1",
                    on_click=rx.clear_selected_files(NEW_UPLOAD_ID),
                ),
                align="center",
                data_testid="new-file-chosen",
            ),
            rx.text(
                "You can also attach it later; the buyer gets it once they have paid.",
                size="1",
                color_scheme="gray",
            ),
        ),
        rx.cond(N.busy & (chosen.length() > 0), rx.progress(value=N.progress, width="100%")),
        rx.cond(
            N.file_error != "",
            rx.callout(
                N.file_error,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                data_testid="new-file-error",
            ),
        ),
        spacing="2",
        width="100%",
    )


def _submit(form: rx.Var) -> rx.Var:
    """With a file chosen the form goes as an upload (its fields bound to it), else as an
    ordinary event."""
    return rx.cond(
        rx.selected_files(NEW_UPLOAD_ID).length() > 0,
        N.create_with_file(
            rx.upload_files_chunk(upload_id=NEW_UPLOAD_ID, on_upload_progress=N.on_progress),
            form,
        ),
        N.create(form),
    )


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
                    _event_picker(),
                    rx.divider(),
                    labelled_input(
                        "Title",
                        "title",
                        N.title_error,
                        id="new-title",
                        placeholder="e.g. Row F seat 12",
                        max_length=120,
                    ),
                    rx.grid(
                        labelled_input(
                            price_label(),
                            "price",
                            N.price_error,
                            id="new-price",
                            placeholder="20.00",
                            input_mode="decimal",
                        ),
                        labelled_input(
                            "Face value",
                            "face_value",
                            N.errors.get("face_value", ""),
                            id="new-face-value",
                            placeholder="printed on the ticket",
                            input_mode="decimal",
                        ),
                        columns="2",
                        spacing="3",
                        width="100%",
                    ),
                    rx.cond(N.cap_hint != "", rx.text(N.cap_hint, size="1", color_scheme="gray")),
                    _file_field(),
                    field_error(N.error),
                    rx.button(
                        "List ticket", type="submit", size="3", loading=N.busy, disabled=offline
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=_submit,
                reset_on_submit=False,
            ),
            size="4",
            max_width="560px",
            width="100%",
        )
    )


def _buyer_panel() -> rx.Component:
    """What a visitor who is not the seller can do."""
    return rx.cond(
        S.ticket["status"] == TicketStatus.AVAILABLE.value,
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
                (
                    TicketStatus.RESERVED.value,
                    "Someone is buying this ticket right now. Check back soon.",
                ),
                (TicketStatus.SOLD.value, "This ticket has been sold."),
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
    return rx.vstack(
        rx.cond(
            S.ticket["status"] == TicketStatus.AVAILABLE.value,
            edit_form,
            rx.callout(
                S.why_not_editable, icon="lock", color_scheme="amber", data_testid="why-not"
            ),
        ),
        ticket_file_panel(
            (S.ticket["status"] == TicketStatus.AVAILABLE.value)
            | ((S.ticket["status"] != TicketStatus.CANCELLED.value) & ~S.ticket["hasFile"].to(bool))
        ),
        spacing="4",
        width="100%",
    )


def _event_block() -> rx.Component:
    return rx.vstack(
        rx.link(
            rx.heading(S.event["name"], size="5"),
            href="/events/" + S.event["id"].to(str),
            data_testid="ticket-event",
        ),
        rx.text(
            S.event["whereText"],
            " · ",
            local_time(S.event["startsAt"].to(str), data_testid="event-start"),
            size="2",
            color_scheme="gray",
        ),
        spacing="1",
    )


def _price_block() -> rx.Component:
    """SPEC §12: the all-in total a buyer pays, shown before "Buy" (no fee added later), with
    its breakdown; the seller sees what they receive after the seller fee."""
    line = {"size": "2", "color_scheme": "gray"}
    return rx.vstack(
        rx.text(
            money_text(S.total),
            size="8",
            weight="bold",
            color="var(--accent-11)",
            data_testid="ticket-total",
        ),
        rx.cond(
            S.fee > 0,
            rx.text(
                "Ticket ",
                money_text(S.ticket["price"], data_testid="ticket-price"),
                " + service fee ",
                money_text(S.fee, data_testid="ticket-fee"),
                ", all included",
                **line,
            ),
            rx.text("All included: no fees are added at checkout", **line),
        ),
        rx.cond(
            S.is_seller & (S.seller_fee > 0),
            rx.text(
                "You receive ",
                money_text(S.proceeds, data_testid="ticket-proceeds"),
                " after the seller fee of ",
                money_text(S.seller_fee),
                **line,
            ),
        ),
        spacing="1",
    )


def ticket_detail() -> rx.Component:
    found = rx.card(
        rx.vstack(
            rx.hstack(
                status_badge(S.ticket["status"], S.ticket["status"].to(str).upper()),
                rx.cond(S.is_seller, rx.badge("Your listing", variant="outline")),
                spacing="2",
            ),
            rx.cond(S.event.length() > 0, _event_block()),
            rx.heading(S.ticket["title"], as_="h1", size="7", class_name="user-text"),
            _price_block(),
            rx.cond(
                S.ticket["faceText"] != "",
                rx.text(S.ticket["faceText"], size="2", color_scheme="gray", data_testid="face"),
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
        route="/tickets/[id]",
        title=TicketState.page_title,
        on_load=[NavState.load, TicketState.load, TicketFileState.load],
    )
