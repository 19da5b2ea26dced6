"""The connection to the server, as the pages show it.

`offline` is true while the page's WebSocket is down and reconnect attempts fail (Reflex's
own connection-error list). `reconnecting_banner()` replaces Reflex's default overlay (a toast
with the socket URL and the error text, meant for developers): a plain "Reconnecting…" bar.
Buttons that need the server add `offline` to their `disabled`; forms are uncontrolled, and
the page states keep what is on screen when the reconnect re-runs their on_load, so what the
user typed (the card too) is still there afterwards.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

offline: rx.Var[bool] = has_connection_errors


def reconnecting_banner() -> rx.Component:
    """Always in the page (an ARIA live region), filled only while offline."""
    return rx.box(
        rx.cond(
            offline,
            rx.flex(
                rx.spinner(size="1"),
                rx.text("Reconnecting…", size="2", weight="medium"),
                rx.text(
                    "Your changes are kept; buttons work again once connected.",
                    size="1",
                    class_name="reconnecting-detail",
                ),
                align="center",
                justify="center",
                gap="2",
                wrap="wrap",
                padding="0.5rem 1rem",
                background="var(--gray-12)",
                color="var(--gray-1)",
                box_shadow="var(--shadow-4)",
                data_testid="reconnecting",
            ),
        ),
        role="status",
        aria_live="polite",
        position="fixed",
        bottom="0",
        left="0",
        right="0",
        z_index="1000",
    )


def install(app: rx.App) -> None:
    """Use the banner as the app's connection overlay (instead of Reflex's toast + pulser)."""
    # A fragment: the wrap becomes the parent of the page, whose siblings its children are.
    app.app_wraps[(5, "Overlay")] = lambda stateful: (
        rx.fragment(reconnecting_banner()) if stateful else None
    )
