"""The navbar: brand, the signed-in user's links (or sign-in links), sign-out, the colour
theme menu; and the test-mode banner. From 768 px the links sit in the bar; below, one row
keeps the brand, the theme menu and a "Menu" button that opens the same links."""

from __future__ import annotations

import reflex as rx
from reflex_base.style import set_color_mode

from ticketing_app.components.connection import offline
from ticketing_app.state.nav import NavState

WIDE = rx.breakpoints(initial="none", sm="flex")
NARROW = rx.breakpoints(initial="flex", sm="none")
SIGNED_IN_LINKS = (
    ("Sell a ticket", "/tickets/new"),
    ("My orders", "/orders"),
    ("My listings", "/listings"),
    ("Payouts", "/payouts"),
)
SIGNED_OUT_LINKS = (
    ("Sell a ticket", "/tickets/new"),
    ("Sign in", "/signin"),
    ("Sign up", "/signup"),
)


def _nav_link(text: str, href: str) -> rx.Component:
    return rx.link(
        text,
        href=href,
        size="2",
        weight="medium",
        color_scheme="gray",
        high_contrast=True,
        underline="hover",
        white_space="nowrap",
    )


def _sign_out_button() -> rx.Component:
    return rx.button(
        "Sign out",
        on_click=NavState.sign_out,
        variant="soft",
        size="2",
        loading=NavState.signing_out,
        disabled=offline,
    )


def _bell() -> rx.Component:
    """In-app notifications (SPEC §11) with the unread count."""
    return rx.link(
        rx.hstack(
            rx.icon("bell", size=18, aria_hidden="true"),
            rx.cond(
                NavState.unread > 0,
                rx.badge(NavState.unread, color_scheme="red", data_testid="nav-unread"),
            ),
            spacing="1",
            align="center",
        ),
        href="/notifications",
        # The visible count is part of the name ("Notifications, 2 unread"), as axe requires.
        aria_label=rx.cond(
            NavState.unread > 0,
            "Notifications, " + NavState.unread.to_string() + " unread",
            "Notifications",
        ),
        color_scheme="gray",
        high_contrast=True,
        data_testid="nav-bell",
    )


def _theme_menu() -> rx.Component:
    """Light, dark, or the system's setting (the default: Radix `appearance="inherit"`)."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.color_mode_cond(rx.icon("sun", size=18), rx.icon("moon", size=18)),
                variant="ghost",
                color_scheme="gray",
                size="2",
                aria_label="Colour theme",
            ),
        ),
        rx.menu.content(
            rx.menu.item("Light", on_click=set_color_mode("light")),
            rx.menu.item("Dark", on_click=set_color_mode("dark")),
            rx.menu.item("Same as system", on_click=set_color_mode("system")),
        ),
    )


def _wide_links() -> rx.Component:
    signed_in = rx.hstack(
        *[_nav_link(text, href) for text, href in SIGNED_IN_LINKS],
        rx.cond(NavState.is_operator, _nav_link("Admin", "/admin/users")),
        _bell(),
        rx.link(
            NavState.user_email,
            href="/account",
            size="2",
            color_scheme="gray",
            data_testid="nav-user",
        ),
        _sign_out_button(),
        spacing="4",
        align="center",
        data_testid="nav-signed-in",
    )
    signed_out = rx.hstack(
        *[_nav_link(text, href) for text, href in SIGNED_OUT_LINKS],
        spacing="4",
        align="center",
        data_testid="nav-signed-out",
    )
    return rx.box(
        rx.cond(NavState.loaded, rx.cond(NavState.signed_in, signed_in, signed_out)),
        display=WIDE,
    )


def _menu_link(text: str, href: str) -> rx.Component:
    """A menu item that navigates (the item is the control; a link inside it would be two)."""
    return rx.menu.item(text, on_click=rx.redirect(href))


def _narrow_menu() -> rx.Component:
    signed_in_items = [
        rx.menu.item(NavState.user_email, disabled=True),
        *[_menu_link(text, href) for text, href in SIGNED_IN_LINKS],
        rx.cond(NavState.is_operator, _menu_link("Admin", "/admin/users")),
        _menu_link("Notifications", "/notifications"),
        _menu_link("Account", "/account"),
        rx.menu.separator(),
        rx.menu.item("Sign out", on_click=NavState.sign_out, disabled=offline),
    ]
    signed_out_items = [_menu_link(text, href) for text, href in SIGNED_OUT_LINKS]
    return rx.box(
        rx.cond(
            NavState.loaded,
            rx.menu.root(
                rx.menu.trigger(
                    rx.button(
                        rx.icon("menu", size=16),
                        "Menu",
                        variant="soft",
                        size="2",
                        data_testid="nav-menu",
                    ),
                ),
                rx.menu.content(
                    rx.cond(
                        NavState.signed_in,
                        rx.fragment(*signed_in_items),
                        rx.fragment(*signed_out_items),
                    ),
                    align="end",
                ),
            ),
        ),
        display=NARROW,
    )


def navbar() -> rx.Component:
    brand = rx.link(
        rx.hstack(
            rx.icon("ticket", size=24, aria_hidden="true"),
            rx.text("Ticketing", size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        href="/",
        underline="none",
        high_contrast=True,
    )
    return rx.el.header(
        rx.el.nav(
            brand,
            rx.hstack(_wide_links(), _narrow_menu(), _theme_menu(), spacing="3", align="center"),
            max_width="1100px",
            margin="0 auto",
            padding_x="1rem",
            padding_y="0.75rem",
            aria_label="Main",
            display="flex",
            flex_wrap="nowrap",
            justify_content="space-between",
            align_items="center",
            gap="0.75rem",
        ),
        test_mode_banner(),
        # A push said this session ended (suspended, signed out elsewhere): off to sign in.
        rx.cond(NavState.session_ended, rx.box(on_mount=NavState.after_session_ended)),
        border_bottom="1px solid var(--gray-a5)",
        background="var(--color-panel-solid)",
        position="sticky",
        top="0",
        z_index="10",
    )


def test_mode_banner() -> rx.Component:
    """One line at any width: the full sentence from 768 px, a short one below."""
    return rx.cond(
        NavState.test_mode,
        rx.box(
            rx.text(
                rx.icon("flask-conical", size=14, display="inline", margin_right="0.4rem"),
                rx.el.span(
                    "Test mode — payments use a local test Stripe; no real money moves",
                    display=rx.breakpoints(initial="none", sm="inline"),
                ),
                rx.el.span(
                    "Test mode — no real money moves",
                    display=rx.breakpoints(initial="inline", sm="none"),
                ),
                size="2",
                weight="medium",
                align="center",
                white_space="nowrap",
                overflow="hidden",
                text_overflow="ellipsis",
            ),
            background="var(--amber-3)",
            color="var(--amber-12)",
            padding_y="0.35rem",
            padding_x="1rem",
            text_align="center",
            role="status",
            data_testid="test-mode",
        ),
    )
