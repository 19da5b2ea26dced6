"""The page shell (navbar, test-mode banner, content) and form pieces."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.navbar import navbar
from ticketing_app.state.nav import NavState


def page(
    *children: rx.Component, title: str | rx.Var | None = None, **props: object
) -> rx.Component:
    """Navbar, banner and a centred, responsive content column."""
    heading = (
        [rx.heading(title, as_="h1", size="7", margin_bottom="1rem")] if title is not None else []
    )
    return rx.box(
        navbar(),
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


def link_button(text: str, href: str, **props: object) -> rx.Component:
    """A link that looks like a button (a button inside a link is two controls in one)."""
    return rx.button(rx.link(text, href=href, underline="none"), as_child=True, **props)


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
