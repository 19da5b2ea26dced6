"""The buyer's orders (`/orders`) and one order (`/orders/[order_id]`) with its countdown.

The countdown ticks in the browser; these states only hand it the server's `expiresAt` and
the server's clock (`server_now`) so the page can correct for a skewed client clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import orders
from ticketing_app.services.views import order_view
from ticketing_app.state.common import (
    display_time,
    money,
    server_now,
    signed_in_user,
    signin_redirect,
    status_label,
)


def order_card(result: orders.OrderWithTicket) -> dict[str, Any]:
    """order_view plus the strings the page prints."""
    view = order_view(result.order, result.ticket)
    return {
        **view,
        "ticketTitle": view["ticket"]["title"],
        "ticketId": view["ticket"]["id"],
        "priceText": money(view["price"]),
        "statusText": status_label(view["status"]),
        "orderedAt": display_time(view["createdAt"]),
        "active": view["status"] == "created",
    }


class OrdersState(rx.State):
    orders: list[dict[str, Any]] = []
    server_now: str = ""
    loading: bool = True

    def _reload_live(self) -> None:
        user = signed_in_user(self)
        if user is None:
            self.orders = []
            return
        with read_session() as db:
            rows = orders.list_orders(db, user_id=user["id"])
        self.orders = [order_card(r) for r in rows]
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
        live.watch(self.router.session.client_token, OrdersState, [live.buyer_topic(user["id"])])
        self._reload_live()

    @rx.event
    def timer_ended(self) -> None:
        """A countdown in the list reached zero: settle due orders of this user and reload."""
        user = signed_in_user(self)
        if user is None:
            return
        for order in self.orders:
            if order.get("active") and order.get("userId") == user["id"]:
                expire_if_due(str(order["id"]))
        self._reload_live()


def expire_if_due(order_id: str) -> None:
    """The timer reached zero in a browser: make the server's answer final now, whether or not
    the scheduler has run yet (idempotent; does nothing unless the order is really due)."""
    with write_session() as db:
        orders.expire_order(db, order_id=order_id, now=utcnow())


class OrderState(rx.State):
    order: dict[str, Any] = {}
    server_now: str = ""
    not_found: str = ""
    loading: bool = True
    error: str = ""
    busy: bool = False

    def _order_id(self) -> str:
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1]

    def _reload_live(self) -> None:
        user = signed_in_user(self)
        if user is None:
            self.order = {}
            return
        try:
            with read_session() as db:
                result = orders.get_order(db, user_id=user["id"], order_id=self._order_id())
        except DomainError as exc:  # NotFound, or Forbidden for someone else's order
            self.order, self.not_found, self.loading = {}, exc.message, False
            return
        self.not_found = ""
        self.order = order_card(result)
        self.server_now = server_now()
        self.loading = False

    @rx.event
    def load(self) -> Iterator[rx.event.EventSpec | None]:
        self.loading, self.error, self.busy = True, "", False
        yield
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        live.watch(
            self.router.session.client_token, OrderState, [live.order_topic(self._order_id())]
        )
        self._reload_live()

    @rx.event
    def cancel(self) -> Iterator[rx.event.EventSpec | None]:
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        self.busy, self.error = True, ""
        yield
        try:
            with write_session() as db:
                orders.cancel_order(db, user_id=user["id"], order_id=self._order_id(), now=utcnow())
        except DomainError as exc:
            self.error = exc.message
        else:
            yield rx.toast.info("Order cancelled; the ticket is back on sale")
        self.busy = False
        self._reload_live()

    @rx.event
    def timer_ended(self) -> None:
        """The countdown reached zero: expire the order if it is due, then show the outcome."""
        if signed_in_user(self) is None:
            return
        expire_if_due(self._order_id())
        self._reload_live()
