"""Sign-up and sign-in forms. Credentials go to the auth service; the new session token
never reaches the browser's JavaScript: the page gets a one-time code for the cookie bridge
(`/api/auth/session`), which sets the HttpOnly cookie."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import reflex as rx

from ticketing_app.db import write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import auth, validation
from ticketing_app.state.common import (
    field_errors,
    focus_first,
    post_form_script,
    safe_next_path,
    signed_in_user,
)


class AuthState(rx.State):
    email_error: str = ""
    password_error: str = ""
    form_error: str = ""
    busy: bool = False

    @rx.var
    def next_path(self) -> str:
        return safe_next_path(self.router.url.query_parameters.get("next"))

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        """Clear old errors; a signed-in visitor goes straight on."""
        self.email_error = self.password_error = self.form_error = ""
        self.busy = False
        if signed_in_user(self) is not None:
            return rx.redirect(self.next_path)
        return None

    @staticmethod
    def _checks(service: Callable[..., Any], form: dict[str, Any]) -> dict[str, Any]:
        """What sign-up checks field by field (sign-in answers only "Invalid credentials")."""
        if service is not auth.signup:
            return {}
        return {
            "email": lambda: validation.parse_email(form.get("email")),
            "password": lambda: validation.parse_password(form.get("password")),
        }

    def _submit(
        self, form: dict[str, Any], service: Callable[..., Any]
    ) -> Iterator[rx.event.EventSpec | None]:
        self.email_error = self.password_error = self.form_error = ""
        self.busy = True
        yield
        try:
            with write_session() as db:
                now = utcnow()
                _user, token = service(
                    db,
                    email=str(form.get("email") or ""),
                    password=str(form.get("password") or ""),
                    now=now,
                )
                # Only a one-time code goes through the page; the token stays on the server.
                code = auth.begin_handoff(db, token=token, now=now)
        except DomainError as exc:
            self.busy = False
            errors = field_errors(exc, **self._checks(service, form))
            self.email_error = errors.get("email", "")
            self.password_error = errors.get("password", "")
            self.form_error = errors.get("", "")
            kind = "signup" if service is auth.signup else "signin"
            yield focus_first(errors, {"email": f"{kind}-email", "password": f"{kind}-password"})
            return
        # Stay busy: the browser is about to navigate away with the new cookie.
        yield rx.call_script(post_form_script("/api/auth/session", {"code": code}, self.next_path))

    @rx.event
    def signup(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        yield from self._submit(form, auth.signup)

    @rx.event
    def signin(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        yield from self._submit(form, auth.signin)
