"""`/signup` and `/signin`: forms with inline errors."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.connection import offline
from ticketing_app.components.layout import field_error, labelled_input, page
from ticketing_app.state.auth import AuthState
from ticketing_app.state.nav import NavState


def _form(kind: str) -> rx.Component:
    is_signup = kind == "signup"
    action = "Sign up" if is_signup else "Sign in"
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading(
                        "Create your account" if is_signup else "Welcome back", as_="h1", size="6"
                    ),
                    rx.text(
                        "Sell tickets you can't use and buy the ones you want."
                        if is_signup
                        else "Sign in to buy and sell tickets.",
                        color_scheme="gray",
                        size="2",
                    ),
                    labelled_input(
                        "Email",
                        "email",
                        AuthState.email_error,
                        id=f"{kind}-email",
                        type="email",
                        auto_complete="email",
                        placeholder="you@example.com",
                    ),
                    labelled_input(
                        "Password",
                        "password",
                        AuthState.password_error,
                        id=f"{kind}-password",
                        type="password",
                        auto_complete="new-password" if is_signup else "current-password",
                        placeholder="At least 8 characters" if is_signup else "",
                    ),
                    field_error(AuthState.form_error),
                    *(
                        []
                        if is_signup
                        else [rx.link("Forgot your password?", href="/forgot", size="2")]
                    ),
                    rx.button(
                        action,
                        type="submit",
                        size="3",
                        width="100%",
                        loading=AuthState.busy,
                        disabled=offline,
                    ),
                    rx.text(
                        "Already have an account? " if is_signup else "New here? ",
                        rx.link(
                            "Sign in" if is_signup else "Create an account",
                            href=rx.cond(
                                AuthState.next_path != "/",
                                ("/signin" if is_signup else "/signup")
                                + "?next="
                                + AuthState.next_path,
                                "/signin" if is_signup else "/signup",
                            ),
                        ),
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.signup if is_signup else AuthState.signin,
                reset_on_submit=False,
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="420px",
        ),
        padding_top="2rem",
    )


def signup() -> rx.Component:
    return page(_form("signup"))


def signin() -> rx.Component:
    return page(_form("signin"))


def add_pages(app: rx.App) -> None:
    app.add_page(
        signup,
        route="/signup",
        title="Sign up · Ticketing",
        on_load=[NavState.load, AuthState.load],
    )
    app.add_page(
        signin,
        route="/signin",
        title="Sign in · Ticketing",
        on_load=[NavState.load, AuthState.load],
    )
