"""Sign-up and sign-in forms. Credentials go to the auth service; the new session token
never reaches the browser's JavaScript: the page gets a one-time code for the cookie bridge
(`/api/auth/session`), which sets the HttpOnly cookie."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import reflex as rx

from ticketing_app.db import write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import auth, validation
from ticketing_app.state.common import field_errors, focus_first, post_form_script, signed_in_user
from ticketing_app.state.event_args import form_fields
from ticketing_app.state.snapshot import PageState
from ticketing_app.web_session import DEVICE_COOKIE_NAME, safe_next, token_from_cookie_header


class AuthState(PageState, rx.State):
    email_error: str = ""
    password_error: str = ""
    form_error: str = ""
    busy: bool = False
    # Where to go once signed in (`?next=`, checked by safe_next), for the links between the
    # two forms. Set by `load`, not a computed var of the router: one would be evaluated in
    # every new tab's first snapshot, on every page (state/snapshot.py).
    next_path: str = "/"

    def _next_path(self) -> str:
        return safe_next(self.router.url.query_parameters.get("next"))

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        """Clear old errors; a signed-in visitor goes straight on."""
        self.email_error = self.password_error = self.form_error = ""
        self.busy = False
        self.next_path = self._next_path()
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
        fields = form_fields(form, "email", "password")
        self.email_error = self.password_error = self.form_error = ""
        self.busy = True
        yield
        try:
            with write_session() as db:
                now = utcnow()
                _user, token = service(
                    db, email=fields["email"], password=fields["password"], now=now
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
        yield rx.call_script(
            post_form_script("/api/auth/session", {"code": code}, self._next_path())
        )

    @rx.event
    def signup(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        yield from self._submit(form, auth.signup)

    @rx.event
    def signin(self, form: dict[str, Any]) -> Iterator[rx.event.EventSpec | None]:
        # This browser's known-device cookie (HttpOnly; the socket's handshake carried it).
        device = token_from_cookie_header(self.router.headers.cookie, DEVICE_COOKIE_NAME)
        yield from self._submit(form, functools.partial(auth.signin, device=device))
