"""The page shell: navbar (signed-in user or sign-in links), test-mode banner, content."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.connection import offline
from ticketing_app.state.nav import NavState


def _nav_link(text: str, href: str) -> rx.Component:
    return rx.link(
        text,
        href=href,
        size="2",
        weight="medium",
        color_scheme="gray",
        high_contrast=True,
        underline="hover",
    )


def navbar() -> rx.Component:
    signed_in = rx.hstack(
        _nav_link("Sell a ticket", "/tickets/new"),
        _nav_link("My orders", "/orders"),
        _nav_link("My listings", "/listings"),
        rx.text(NavState.user_email, size="2", color_scheme="gray", data_testid="nav-user"),
        rx.button(
            "Sign out",
            on_click=NavState.sign_out,
            variant="soft",
            size="2",
            loading=NavState.signing_out,
            disabled=offline,
        ),
        spacing="4",
        align="center",
        wrap="wrap",
        justify="end",
        data_testid="nav-signed-in",
    )
    signed_out = rx.hstack(
        _nav_link("Sell a ticket", "/tickets/new"),
        _nav_link("Sign in", "/signin"),
        _nav_link("Sign up", "/signup"),
        spacing="4",
        align="center",
        data_testid="nav-signed-out",
    )
    return rx.el.header(
        rx.el.nav(
            rx.link(
                rx.hstack(
                    rx.icon("ticket", size=24),
                    rx.text("Ticketing", size="5", weight="bold"),
                    align="center",
                    spacing="2",
                ),
                href="/",
                underline="none",
                high_contrast=True,
            ),
            rx.cond(NavState.loaded, rx.cond(NavState.signed_in, signed_in, signed_out)),
            gap="0.75rem",
            max_width="1100px",
            margin="0 auto",
            padding_x="1.25rem",
            padding_y="0.85rem",
            aria_label="Main",
            display="flex",
            flex_wrap="wrap",
            justify_content="space-between",
            align_items="center",
        ),
        border_bottom="1px solid var(--gray-a5)",
        background="var(--color-panel-solid)",
        position="sticky",
        top="0",
        z_index="10",
    )


def test_mode_banner() -> rx.Component:
    return rx.cond(
        NavState.test_mode,
        rx.box(
            rx.text(
                rx.icon("flask-conical", size=14, display="inline", margin_right="0.4rem"),
                "Test mode — payments use a local test Stripe; no real money moves",
                size="2",
                weight="medium",
                align="center",
            ),
            background="var(--amber-a3)",
            color="var(--amber-11)",
            padding_y="0.4rem",
            padding_x="1rem",
            text_align="center",
            role="status",
        ),
    )


def page(
    *children: rx.Component, title: str | rx.Var | None = None, **props: object
) -> rx.Component:
    """Navbar, banner and a centred, responsive content column."""
    heading = [rx.heading(title, size="7", margin_bottom="1rem")] if title is not None else []
    return rx.box(
        navbar(),
        test_mode_banner(),
        rx.el.main(
            *heading,
            *children,
            max_width="1100px",
            margin="0 auto",
            padding_x="1.25rem",
            padding_y="1.75rem",
            display="block",
            **props,
        ),
        min_height="100vh",
        background="var(--gray-2)",
    )


def field_error(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(message, color_scheme="red", size="2", role="alert"),
    )


def labelled_input(
    label: str | rx.Component, name: str, error: rx.Var, **props: object
) -> rx.Component:
    """A visible <label> bound to its input, plus the field's inline error: the input is
    `aria-invalid` while there is one and `aria-describedby` its text (an always-present live
    region, so a new error is announced)."""
    input_id = str(props.pop("id", f"field-{name}"))
    error_id = f"{input_id}-error"
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"fontWeight": 500, "fontSize": "14px"}),
        rx.input(
            id=input_id,
            name=name,
            size="3",
            width="100%",
            aria_invalid=rx.cond(error != "", "true", "false"),
            aria_describedby=error_id,
            **props,
        ),
        rx.text(error, id=error_id, color_scheme="red", size="2", role="alert"),
        spacing="1",
        width="100%",
    )


def price_label() -> rx.Component:
    """ "Price (EUR)": the deployment's currency (found by `get_by_label("Price")` too)."""
    return rx.fragment(
        "Price", rx.cond(NavState.currency != "", " (" + NavState.currency + ")", "")
    )


def loading_block() -> rx.Component:
    return rx.center(rx.spinner(size="3"), padding="3rem", width="100%")


def empty_block(icon: str, text: str, *actions: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=36, color="var(--gray-9)"),
            rx.text(text, size="3", color_scheme="gray", align="center"),
            *actions,
            align="center",
            spacing="3",
            padding="2rem",
        ),
        width="100%",
    )
