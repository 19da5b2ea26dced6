"""The navbar: who is signed in, sign-out, and the test-mode banner."""

from __future__ import annotations

from collections.abc import Iterator

import reflex as rx
from reflex.istate.data import RouterData

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.models import utcnow
from ticketing_app.services import auth, watches
from ticketing_app.settings import get_settings
from ticketing_app.state.common import post_form_script, session_token
from ticketing_app.state.snapshot import PageState, assign


class NavState(PageState, rx.State):
    user_email: str = ""
    signed_in: bool = False
    test_mode: bool = False
    loaded: bool = False
    signing_out: bool = False
    unread: int = 0  # in-app notifications not yet read (the bell)
    currency: str = ""  # the deployment's currency (ISO code), for every price on the page

    is_operator: bool = False  # shows "Admin"; every admin handler re-checks on the server
    session_ended: bool = False  # a push found this page's session gone (navbar redirects)

    def _read_user(self, router: RouterData | None = None) -> auth.SignedIn | None:
        token = session_token(self, router)
        if not token:
            return None
        with write_session() as db:
            return auth.current_user(db, token=token, now=utcnow())

    @rx.event
    def load(self) -> None:
        """on_load of every page: re-read the user from the session cookie, and watch the
        user's own topic (a suspension or sign-out-everywhere ends this page's session)."""
        self._refresh()

    def _refresh(self, router: RouterData | None = None) -> None:
        """`load`'s work, for a page whose own on_load handler does it too (the market page:
        one event instead of one per state; it passes the `router` it read)."""
        router = router or self.router
        user = self._read_user(router)
        unread = 0
        token = router.session.client_token
        if user is not None:
            with write_session() as db:
                unread = watches.unread_count(db, user_id=user.id)
            # The bell is live (a new notification, or "mark all read" in another tab), and
            # the user's own topic ends this page's session when they are suspended.
            live.watch(
                token, NavState, [live.notifications_topic(user.id), live.user_topic(user.id)]
            )
        else:
            live.unwatch(token, NavState)
        settings = get_settings()
        assign(
            self,
            signed_in=user is not None,
            user_email=user.email if user else "",
            is_operator=bool(user and user.is_operator),
            session_ended=False,
            unread=unread,
            test_mode=settings.stripe_test_mode,
            currency=settings.ticketing_currency,
            # A sign-out that navigated away leaves this flag set in the tab's state (the same
            # client token after the reload): without this, the next sign-out button sticks.
            signing_out=False,
            loaded=True,
        )

    def _reload_live(self) -> None:
        """A push on the bell's or the user's topic: still signed in? If not, the navbar sends
        the page to sign in (`after_session_ended`), so a suspended user's open pages stop at
        once; if so, the unread count is read again."""
        user = self._read_user()
        if user is None and self.signed_in:
            self.signed_in, self.user_email, self.is_operator = False, "", False
            self.session_ended = True
        elif user is not None:
            self.is_operator = user.is_operator
            # The push names a user but carries no count: re-read it for whoever this tab's
            # cookie signs in now, so no tab can show another user's.
            with read_session() as db:
                self.unread = watches.unread_count(db, user_id=user.id)

    @rx.event
    def after_session_ended(self) -> rx.event.EventSpec | None:
        self.session_ended = False
        if self._read_user() is None:
            return rx.redirect("/signin")
        return None

    @rx.event
    def sign_out(self) -> Iterator[rx.event.EventSpec | None]:
        """Revoke the DB session, then let the backend expire the HttpOnly cookie."""
        self.signing_out = True
        yield
        with write_session() as db:
            auth.signout(db, token=session_token(self), now=utcnow())
        # Keep showing the user (button loading) until the page reloads signed out.
        yield rx.call_script(post_form_script("/api/auth/clear", {}, "/"))
