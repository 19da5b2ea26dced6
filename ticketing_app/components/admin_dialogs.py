"""The /admin dialogs: the confirmation every operator action goes through (what happens, and
a required reason), and the event edit form. Both are opened and closed by AdminState."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.layout import field_error
from ticketing_app.state.admin import AdminState


def confirm_dialog() -> rx.Component:
    """What happens, and why (required): the confirmation of every operator action."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(AdminState.dialog_title),
            rx.alert_dialog.description(
                rx.text(rx.text.strong(AdminState.pending_label)),
                rx.text(AdminState.dialog_text),
                size="2",
            ),
            rx.form(
                rx.vstack(
                    rx.el.label("Reason", html_for="admin-reason", weight="medium"),
                    rx.text_area(
                        id="admin-reason",
                        name="reason",
                        width="100%",
                        key=AdminState.pending_target,
                    ),
                    field_error(AdminState.reason_error),
                    rx.flex(
                        rx.button(
                            "Keep",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=AdminState.close_dialog,
                        ),
                        rx.button(
                            AdminState.dialog_confirm,
                            type="submit",
                            color_scheme="red",
                            high_contrast=True,
                            loading=AdminState.busy,
                        ),
                        gap="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                    margin_top="1rem",
                ),
                on_submit=AdminState.confirm,
            ),
            max_width="480px",
        ),
        open=AdminState.pending_action != "",
    )


def _edit_field(label: str, name: str, value: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"edit-{name}", weight="medium"),
        rx.input(id=f"edit-{name}", name=name, default_value=value, width="100%"),
        spacing="1",
        width="100%",
    )


def edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit event"),
            rx.form(
                rx.vstack(
                    _edit_field("Name", "name", AdminState.edit_name),
                    _edit_field("Venue", "venue", AdminState.edit_venue),
                    _edit_field("City", "city", AdminState.edit_city),
                    _edit_field(
                        "Starts at (ISO 8601 with a zone, e.g. 2026-12-05T20:00:00Z)",
                        "starts_at",
                        AdminState.edit_starts,
                    ),
                    _edit_field("Reason", "reason", ""),
                    field_error(AdminState.edit_error),
                    rx.flex(
                        rx.button(
                            "Close",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=AdminState.close_dialog,
                        ),
                        rx.button("Save event", type="submit"),
                        gap="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                ),
                on_submit=AdminState.save_event,
                key=AdminState.edit_id,
            ),
            max_width="520px",
        ),
        open=AdminState.edit_id != "",
    )
