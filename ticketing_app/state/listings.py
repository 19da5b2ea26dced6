"""The seller's listings (`/listings`) with live status and hold countdowns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session
from ticketing_app.services import listings
from ticketing_app.services.views import iso
from ticketing_app.state.common import server_now, signed_in_user, signin_redirect, status_label
from ticketing_app.state.market import ticket_card
from ticketing_app.state.orders import expire_if_due


class ListingsState(rx.State):
    listings: list[dict[str, Any]] = []
    server_now: str = ""
    loading: bool = True

    def _reload_live(self) -> None:
        user = signed_in_user(self)
        if user is None:
            self.listings = []
            return
        with read_session() as db:
            rows = listings.seller_listings(db, seller_id=user["id"])
        self.listings = [
            {
                **ticket_card(row.ticket),
                "statusText": status_label(row.ticket.status),
                "holdExpiresAt": iso(row.hold_expires_at) or "",
            }
            for row in rows
        ]
        self.server_now = server_now()
        self.loading = False

    @rx.event
    def load(self) -> Iterator[rx.event.EventSpec | None]:
        self.loading = True
        yield
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        live.watch(self.router.session.client_token, ListingsState, [live.seller_topic(user["id"])])
        self._reload_live()

    @rx.event
    def timer_ended(self) -> None:
        """A hold's countdown reached zero: settle due holds on this seller's tickets, reload."""
        user = signed_in_user(self)
        if user is None:
            return
        for item in self.listings:
            if item.get("status") == "reserved" and item.get("orderId"):
                expire_if_due(str(item["orderId"]))
        self._reload_live()
