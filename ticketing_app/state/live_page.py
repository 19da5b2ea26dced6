"""The shape shared by the signed-in pages that show live orders or holds (`/orders`,
`/orders/[id]`, `/listings`): on_load "sign-in guard → watch → reload", and a countdown's
end "guard → settle what is due → reload".

These are Reflex state mixins (`mixin=True`): each page state that uses them gets its own copy of
their vars and event handlers, so `/orders` and `/listings` keep separate, flat states. A state
fills in the hooks (`_topics`, `_due_order_ids`, and `_read_rows` or `_reload_live`); the
handlers here re-read the user from the session cookie on every call (live.py's contract).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import orders
from ticketing_app.state.common import server_now, signed_in_user, signin_redirect
from ticketing_app.state.snapshot import PageState


def list_row(
    card: dict[str, Any],
    *,
    title: str,
    date_label: str,
    date_at: str,
    timer_ends_at: str | None,
    detail: str = "",
    note: str = "",
) -> dict[str, Any]:
    """A row as components/status_row.py prints it: `card` (with `id`, `status`, `statusText`,
    `price`) plus `title`, `dateLabel` ("Listed") and `dateAt` (ISO, shown in the viewer's
    time zone), `detail` (more of that line, "" for none), `timerEndsAt` ("" when no
    countdown runs) and `note` (a line of explanation, "" for none)."""
    return {
        **card,
        "title": title,
        "dateLabel": date_label,
        "dateAt": date_at,
        "detail": detail,
        "timerEndsAt": timer_ends_at or "",
        "note": note,
    }


def expire_if_due(order_id: str) -> None:
    """The timer reached zero in a browser: make the server's answer final now, whether or not
    the scheduler has run yet (idempotent; does nothing unless the order is really due)."""
    with write_session() as db:
        orders.expire_order(db, order_id=order_id, now=utcnow())


class SignedInLivePage(PageState, mixin=True):
    """`load` and `timer_ended` for a page only its signed-in owner sees, kept current by pushes."""

    server_now: str = ""
    loading: bool = True
    # The path whose data is on screen: a reconnect re-runs on_load for it, and then the page
    # must not flash its loading state (that would unmount the forms and lose what was typed).
    _shown_path: str = ""

    def _reset(self) -> None:
        """What `load` clears before the first render (besides `loading`)."""

    def _topics(self, user_id: str) -> Iterable[str]:
        """The live topics this page shows for the signed-in user."""
        raise NotImplementedError

    def _due_order_ids(self, user_id: str) -> Iterable[str]:
        """The orders on screen whose countdown may have run out."""
        raise NotImplementedError

    def _reload_live(self) -> None:
        raise NotImplementedError

    @rx.event
    def load(self) -> Iterator[rx.event.EventSpec | None]:
        self._reset()
        if self._shown_path != self.router.url.path:
            self.loading = True
            yield
        user = signed_in_user(self)
        if user is None:
            self._shown_path = ""
            yield signin_redirect(self)
            return
        live.watch(self.router.session.client_token, type(self), self._topics(user["id"]))
        self._reload_live()
        self._shown_path = self.router.url.path

    @rx.event
    def timer_ended(self) -> None:
        """A countdown reached zero: settle what is due (the server decides), then reload."""
        user = signed_in_user(self)
        if user is None:
            return
        for order_id in self._due_order_ids(user["id"]):
            expire_if_due(order_id)
        self._reload_live()


class SignedInList(SignedInLivePage, mixin=True):
    """A signed-in user's list (`rows`), re-read whole on load, on a push and when a timer ends."""

    rows: list[dict[str, Any]] = []

    def _read_rows(self, user_id: str) -> list[dict[str, Any]]:
        """The rows as the page prints them (`list_row`s)."""
        raise NotImplementedError

    def _reload_live(self) -> None:
        user = signed_in_user(self)
        if user is None:
            self.rows = []
            return
        self.rows = self._read_rows(user["id"])
        self.server_now = server_now()
        self.loading = False
