"""`/account`, `/forgot`, `/reset/[id]`, `/account/verify/[id]` (SPEC §11)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.layout import field_error, labelled_input, page
from ticketing_app.state.account import (
    AccountState,
    ForgotState,
    NotificationsState,
    ResetState,
    VerifyState,
)
from ticketing_app.state.nav import NavState


def _card(*children: rx.Component, **props: object) -> rx.Component:
    return rx.card(rx.vstack(*children, spacing="4", width="100%"), size="3", width="100%")


def _form(*children: rx.Component, on_submit: object, **props: object) -> rx.Component:
    """A full-width form whose fields stack (every form on these pages)."""
    return rx.form(
        rx.vstack(*children, spacing="3", width="100%"),
        on_submit=on_submit,
        width="100%",
        **props,
    )


def _narrow(*children: rx.Component) -> rx.Component:
    """The one-card page of /forgot, /reset and /account/verify."""
    return page(rx.center(_card(*children), max_width="420px", margin="0 auto"))


def _done(message: rx.Var) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, color_scheme="green", role="status"))


def account() -> rx.Component:
    password_form = _form(
        rx.heading("Change password", size="4"),
        labelled_input(
            "Current password",
            "currentPassword",
            AccountState.current_password_error,
            id="account-current-password",
            type="password",
            auto_complete="current-password",
        ),
        labelled_input(
            "New password",
            "newPassword",
            AccountState.new_password_error,
            id="account-new-password",
            type="password",
            auto_complete="new-password",
            placeholder="At least 8 characters",
        ),
        field_error(AccountState.password_form_error),
        _done(AccountState.password_done),
        rx.button("Change password", type="submit"),
        on_submit=AccountState.change_password,
        reset_on_submit=True,
    )
    email_form = _form(
        rx.heading("Change email", size="4"),
        rx.text("Your address: ", rx.text.strong(AccountState.email), size="2"),
        labelled_input(
            "New email",
            "email",
            AccountState.email_error,
            id="account-new-email",
            type="email",
            auto_complete="email",
        ),
        labelled_input(
            "Password",
            "password",
            AccountState.password_error,
            id="account-email-password",
            type="password",
            auto_complete="current-password",
        ),
        field_error(AccountState.email_form_error),
        _done(AccountState.email_done),
        rx.button("Send confirmation link", type="submit"),
        on_submit=AccountState.change_email,
        reset_on_submit=True,
    )
    return page(
        rx.vstack(
            _card(password_form),
            _card(email_form),
            _card(
                rx.heading("Watching", size="4"),
                rx.cond(
                    AccountState.watches.length() > 0,
                    rx.vstack(
                        rx.foreach(
                            AccountState.watches,
                            lambda w: rx.text(
                                rx.link(w["eventName"], href=w["href"]),
                                " · ",
                                w["limitText"],
                                size="2",
                                data_testid="watch-row",
                            ),
                        ),
                        spacing="1",
                    ),
                    rx.text(
                        'No events yet: use "Notify me" on an event\'s page.',
                        size="2",
                        color_scheme="gray",
                    ),
                ),
            ),
            _card(
                rx.heading("Sessions", size="4"),
                rx.text("Sign out on every device and browser, this one included.", size="2"),
                rx.button(
                    "Sign out everywhere",
                    on_click=AccountState.sign_out_everywhere,
                    color_scheme="red",
                    variant="soft",
                    loading=AccountState.busy,
                ),
            ),
            spacing="4",
            width="100%",
            max_width="560px",
        ),
        title="Your account",
    )


def forgot() -> rx.Component:
    return _narrow(
        rx.heading("Forgot your password?", size="6"),
        rx.cond(
            ForgotState.sent != "",
            rx.callout(ForgotState.sent, color_scheme="green", role="status"),
            _form(
                labelled_input(
                    "Email",
                    "email",
                    ForgotState.email_error,
                    id="forgot-email",
                    type="email",
                    auto_complete="email",
                ),
                rx.button("Email me a link", type="submit", width="100%"),
                on_submit=ForgotState.submit,
            ),
        ),
    )


def reset() -> rx.Component:
    return _narrow(
        rx.heading("Choose a new password", size="6"),
        rx.cond(
            ResetState.done,
            rx.vstack(
                rx.callout(
                    "Password changed. Every session was signed out.",
                    color_scheme="green",
                    role="status",
                ),
                rx.link("Sign in with the new password", href="/signin"),
            ),
            _form(
                labelled_input(
                    "New password",
                    "password",
                    ResetState.password_error,
                    id="reset-password",
                    type="password",
                    auto_complete="new-password",
                    placeholder="At least 8 characters",
                ),
                field_error(ResetState.token_error),
                rx.cond(
                    ResetState.token_error != "",
                    rx.link("Ask for a new link", href="/forgot", size="2"),
                ),
                rx.button("Set password", type="submit", width="100%"),
                on_submit=ResetState.submit,
            ),
        ),
    )


def verify() -> rx.Component:
    return _narrow(
        rx.heading("Email address", size="6"),
        rx.cond(
            VerifyState.outcome != "",
            rx.callout(
                VerifyState.outcome,
                color_scheme=rx.cond(VerifyState.ok, "green", "red"),
                role="status",
            ),
            rx.text("Checking your link…"),
        ),
    )


def _notification(item: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.cond(item["read"], rx.icon("circle", size=10), rx.icon("circle-dot", size=10)),
                rx.text(item["text"], weight=rx.cond(item["read"], "regular", "bold"), size="2"),
                spacing="2",
                align="center",
            ),
            width="100%",
        ),
        href=item["link"].to(str),
        underline="none",
        width="100%",
        data_testid="notification",
    )


def notifications() -> rx.Component:
    return page(
        rx.vstack(
            rx.button("Mark all read", on_click=NotificationsState.mark_all_read, variant="soft"),
            rx.cond(
                NotificationsState.items.length() > 0,
                rx.vstack(
                    rx.foreach(NotificationsState.items, _notification),
                    spacing="2",
                    width="100%",
                ),
                rx.text(
                    "Nothing yet: what happens to your orders, listings and watches shows here.",
                    color_scheme="gray",
                ),
            ),
            spacing="3",
            width="100%",
            max_width="640px",
        ),
        title="Notifications",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        notifications,
        route="/notifications",
        title="Notifications · Ticketing",
        on_load=[NavState.load, NotificationsState.load],
    )
    app.add_page(
        account,
        route="/account",
        title="Your account · Ticketing",
        on_load=[NavState.load, AccountState.load],
    )
    app.add_page(
        forgot,
        route="/forgot",
        title="Forgot password · Ticketing",
        on_load=[NavState.load, ForgotState.load],
    )
    app.add_page(
        reset,
        route="/reset/[id]",
        title="Reset password · Ticketing",
        on_load=[NavState.load, ResetState.load],
    )
    app.add_page(
        verify,
        route="/account/verify/[id]",
        title="Confirm email · Ticketing",
        on_load=[NavState.load, VerifyState.load],
    )
