"""`/account` (change password, change email, sign out everywhere), `/forgot`,
`/reset/[id]` and `/account/verify/[id]` (SPEC §11). Every handler re-reads the
signed-in user from the session cookie; the services do the checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import reflex as rx

from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import accounts, watches
from ticketing_app.state.common import (
    money,
    post_form_script,
    session_token,
    show_error,
    signed_in_user,
    signin_redirect,
)
from ticketing_app.state.event_args import form_fields
from ticketing_app.state.nav import NavState
from ticketing_app.state.snapshot import PageState

RESET_SENT = (
    "If an account uses this address, we have emailed it a link to choose a new password. "
    "The link works once, for an hour."
)


def _path_token(state: rx.State) -> str:
    return state.router.url.path.rstrip("/").rsplit("/", 1)[-1]


class AccountState(PageState, rx.State):
    email: str = ""
    current_password_error: str = ""
    new_password_error: str = ""
    password_form_error: str = ""
    password_done: str = ""
    password_error: str = ""
    email_error: str = ""
    email_form_error: str = ""
    email_done: str = ""
    busy: bool = False
    watches: list[dict[str, Any]] = []  # the events this user is watching ("Notify me")

    def _clear(self) -> None:
        self.current_password_error = self.new_password_error = self.password_form_error = ""
        self.password_error = self.email_error = self.email_form_error = ""
        self.password_done = self.email_done = ""
        self.busy = False

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        self._clear()
        user = signed_in_user(self)
        if user is None:
            return signin_redirect(self)
        self.email = user["email"]
        with read_session() as db:
            mine = watches.list_watches(db, user_id=user["id"])
        self.watches = [
            {
                **w,
                "href": f"/events/{w['eventId']}",
                "limitText": "any price"
                if w["maxPrice"] is None
                else f"up to {money(w['maxPrice'])}",
            }
            for w in mine
        ]
        return None

    @rx.event
    def change_password(self, form: dict[str, Any]) -> rx.event.EventSpec | None:
        fields = form_fields(form, "currentPassword", "newPassword")
        self._clear()
        user = signed_in_user(self)
        if user is None:
            return signin_redirect(self)
        try:
            with write_session() as db:
                accounts.change_password(
                    db,
                    user_id=user["id"],
                    current_password=fields["currentPassword"],
                    new_password=fields["newPassword"],
                    keep_token=session_token(self),
                    now=utcnow(),
                )
        except DomainError as exc:
            show_error(self, exc, ("currentPassword", "newPassword"), "password_form_error")
            return None
        self.password_done = "Password changed. Your other sessions have been signed out."
        return None

    @rx.event
    def change_email(self, form: dict[str, Any]) -> rx.event.EventSpec | None:
        fields = form_fields(form, "password", "email")
        self._clear()
        user = signed_in_user(self)
        if user is None:
            return signin_redirect(self)
        try:
            with write_session() as db:
                _user, pending = accounts.change_email(
                    db,
                    user_id=user["id"],
                    password=fields["password"],
                    email=fields["email"],
                    now=utcnow(),
                )
        except DomainError as exc:
            show_error(self, exc, ("password", "email"), "email_form_error")
            return None
        self.email_done = (
            f"We sent a link to {pending}. Your address changes when you open it; until then "
            f"keep signing in with {user['email']}."
        )
        return None

    @rx.event
    def sign_out_everywhere(self) -> Iterator[rx.event.EventSpec | None]:
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        self.busy = True
        yield
        with write_session() as db:
            accounts.sign_out_everywhere(db, user_id=user["id"], now=utcnow())
        yield rx.call_script(post_form_script("/api/auth/clear", {}, "/signin"))


class ForgotState(PageState, rx.State):
    email_error: str = ""
    sent: str = ""

    @rx.event
    def load(self) -> None:
        self.email_error = self.sent = ""

    @rx.event
    def submit(self, form: dict[str, Any]) -> None:
        fields = form_fields(form, "email")
        self.email_error = self.sent = ""
        try:
            with write_session() as db:
                accounts.request_password_reset(db, email=fields["email"], now=utcnow())
        except DomainError as exc:
            self.email_error = exc.message
            return
        self.sent = RESET_SENT


class ResetState(PageState, rx.State):
    password_error: str = ""
    token_error: str = ""
    done: bool = False

    @rx.event
    def load(self) -> None:
        self.password_error = self.token_error = ""
        self.done = False

    @rx.event
    def submit(self, form: dict[str, Any]) -> None:
        fields = form_fields(form, "password")
        self.password_error = self.token_error = ""
        try:
            with write_session() as db:
                accounts.confirm_password_reset(
                    db, token=_path_token(self), password=fields["password"], now=utcnow()
                )
        except DomainError as exc:
            if exc.field == "password":
                self.password_error = exc.message
            else:
                self.token_error = exc.message
            return
        self.done = True


class VerifyState(PageState, rx.State):
    outcome: str = ""
    ok: bool = False

    @rx.event
    def load(self) -> None:
        """Opening the emailed link confirms the address (once)."""
        self.ok, self.outcome = False, ""
        try:
            with write_session() as db:
                user = accounts.verify_email(db, token=_path_token(self), now=utcnow())
        except DomainError as exc:
            self.outcome = exc.message
            return
        self.ok = True
        self.outcome = f"Thank you: {user.email} is confirmed as your email address."


class NotificationsState(PageState, rx.State):
    items: list[dict[str, Any]] = []

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        user = signed_in_user(self)
        if user is None:
            return signin_redirect(self)
        with write_session() as db:
            self.items, _unread = watches.notifications_page(db, user_id=user["id"])
        return None

    @rx.event
    def mark_all_read(self) -> rx.event.EventSpec | None:
        user = signed_in_user(self)
        if user is None:
            return signin_redirect(self)
        with write_session() as db:
            watches.mark_all_read(db, user_id=user["id"], now=utcnow())
            self.items, _unread = watches.notifications_page(db, user_id=user["id"])
        return NavState.load
