"""The navbar: who is signed in, sign-out, and the test-mode banner."""

from __future__ import annotations

from collections.abc import Iterator

import reflex as rx

from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import auth, watches
from ticketing_app.settings import get_settings
from ticketing_app.state.common import post_form_script, session_token, signed_in_user


class NavState(rx.State):
    user_email: str = ""
    signed_in: bool = False
    test_mode: bool = False
    loaded: bool = False
    signing_out: bool = False
    unread: int = 0  # in-app notifications not yet read (the bell)
    currency: str = ""  # the deployment's currency (ISO code), for every price on the page

    @rx.event
    def load(self) -> None:
        """on_load of every page: re-read the user from the session cookie."""
        self._refresh()

    def _refresh(self) -> None:
        """`load`'s work, for a page whose own on_load handler does it too (the market page:
        one event instead of one per state)."""
        user = signed_in_user(self)
        self.signed_in = user is not None
        self.user_email = user["email"] if user else ""
        self.unread = 0
        if user is not None:
            with write_session() as db:
                self.unread = watches.unread_count(db, user_id=user["id"])
        self.test_mode = get_settings().stripe_test_mode
        self.currency = get_settings().ticketing_currency
        # A sign-out that navigated away leaves this flag set in the tab's state (the same
        # client token after the reload): without this, the next sign-out button stays stuck.
        self.signing_out = False
        self.loaded = True

    @rx.event
    def sign_out(self) -> Iterator[rx.event.EventSpec | None]:
        """Revoke the DB session, then let the backend expire the HttpOnly cookie."""
        self.signing_out = True
        yield
        with write_session() as db:
            auth.signout(db, token=session_token(self), now=utcnow())
        # Keep showing the user (button loading) until the page reloads signed out.
        yield rx.call_script(post_form_script("/api/auth/clear", {}, "/"))
