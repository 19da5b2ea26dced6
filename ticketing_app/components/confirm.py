"""`confirm_button(...)`: a button for an action that cannot be undone, which first opens a
Radix alert dialog saying what will happen. Only its confirm button runs `on_confirm`."""

from __future__ import annotations

from typing import Any

import reflex as rx


def confirm_button(
    label: str,
    *,
    title: str,
    description: rx.Component | str,
    confirm_label: str,
    keep_label: str,
    on_confirm: Any,
    disabled: rx.Var | bool = False,
    loading: rx.Var | bool = False,
    **trigger_props: Any,
) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(
                label,
                type="button",
                color_scheme="red",
                variant="soft",
                disabled=disabled,
                loading=loading,
                **trigger_props,
            ),
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(keep_label, variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    # High contrast: white on the solid red is 3.9:1, under WCAG's 4.5:1.
                    rx.button(
                        confirm_label, color_scheme="red", high_contrast=True, on_click=on_confirm
                    ),
                ),
                gap="3",
                justify="end",
                wrap="wrap",
                margin_top="1rem",
            ),
            max_width="460px",
        ),
    )
