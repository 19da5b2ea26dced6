"""The buyer's orders (`/orders`) and one order (`/orders/[id]`) with its countdown.

The countdown ticks in the browser; these states only hand it the server's `expiresAt` and
the server's clock (`server_now`) so the page can correct for a skewed client clock.
Paying: the card form (components/card_form.py) sends only a payment method id made by
Stripe.js; `OrderState.pay_with` confirms server-side and settles from what Stripe says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import OrderStatus, TicketStatus, utcnow
from ticketing_app.services import event_listings, orders, payments
from ticketing_app.services.settlement import refund_notice
from ticketing_app.services.views import order_view
from ticketing_app.settings import get_settings
from ticketing_app.state.common import (
    display_time,
    download_script,
    money,
    server_now,
    signed_in_user,
    signin_redirect,
    status_label,
)
from ticketing_app.state.events import event_card
from ticketing_app.state.live_page import SignedInList, SignedInLivePage, list_row


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
        "active": view["status"] == OrderStatus.CREATED,
        "ticketStatus": result.ticket.status,
        # SPEC §10, once paid: the links the order page offers (the routes check access).
        "hasFile": view["ticket"]["hasFile"],
        "eTicketReady": view["eTicket"] is not None,
    }


class OrdersState(SignedInList, rx.State):
    """`rows`: the buyer's orders, newest first, each with its countdown while active."""

    def _topics(self, user_id: str) -> list[str]:
        return [live.buyer_topic(user_id)]

    def _read_rows(self, user_id: str) -> list[dict[str, Any]]:
        with read_session() as db:
            cards = [order_card(r) for r in orders.list_orders(db, user_id=user_id)]
        return [
            list_row(
                {**card, "price": card["total"]},  # what the buyer pays, fee included
                title=card["ticketTitle"],
                date_label="Ordered",
                date_at=card["createdAt"],
                timer_ends_at=card["expiresAt"] if card["active"] else "",
            )
            for card in cards
        ]

    def _due_order_ids(self, user_id: str) -> list[str]:
        return [
            str(order["id"])
            for order in self.rows
            if order.get("active") and order.get("userId") == user_id
        ]


PayResult = tuple[payments.Settlement, payments.PaymentStart]


def _submit(buyer_id: str, order_id: str, payment_method: Any) -> PayResult:
    with write_session() as db:
        return payments.submit_payment(
            db, buyer_id=buyer_id, order_id=order_id, payment_method=payment_method, now=utcnow()
        )


def _confirm(buyer_id: str, order_id: str, intent_id: str) -> tuple[payments.Settlement, None]:
    with write_session() as db:
        result = payments.confirm_from_browser(
            db, buyer_id=buyer_id, order_id=order_id, payment_intent_id=intent_id, now=utcnow()
        )
    return result, None


NOT_AUTHENTICATED = "Your card was not authenticated. Try again or use another card."
STILL_PROCESSING = "The payment is still being processed. This page updates when it settles."


class OrderState(SignedInLivePage, rx.State):
    order: dict[str, Any] = {}
    event: dict[str, Any] = {}  # the ticket's event ({}: none)
    not_found: str = ""
    error: str = ""
    busy: bool = False
    # Paying (see `pay_with`): what the card form needs, and what the buyer is told.
    stripe_js_url: str = ""
    publishable_key: str = ""
    paying: bool = False
    pay_error: str = ""
    pay_seq: int = 0
    action_secret: str = ""
    refund_message: str = ""
    _action_intent: str = ""

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
        with read_session() as db:
            self.refund_message = refund_notice(db, order_id=result.order.id) or ""
        with read_session() as db:
            summary = event_listings.event_of_ticket(db, result.ticket.id)
        self.event = event_card(summary) if summary is not None else {}
        card = order_card(result)
        if self.refund_message:
            card["statusText"] = "Refunded"
        self.order = card
        self.server_now = server_now()
        self.loading = False

    def _reset(self) -> None:
        self.error, self.busy = "", False
        self.paying, self.pay_error, self.action_secret, self._action_intent = False, "", "", ""
        self.stripe_js_url = payments.stripe_js_url()
        self.publishable_key = get_settings().stripe_publishable_key  # never the secret key

    def _topics(self, user_id: str) -> list[str]:
        return [live.order_topic(self._order_id())]

    @rx.event
    def download_ticket(self) -> rx.event.EventSpec | None:
        """The seller's file, from GET /api/tickets/{id}/file (which applies the access rule
        to the session cookie the browser sends along)."""
        if signed_in_user(self) is None or not self.order:
            return signin_redirect(self)
        return download_script(f"/api/tickets/{self.order['ticketId']}/file")

    @rx.event
    def download_e_ticket(self) -> rx.event.EventSpec | None:
        if signed_in_user(self) is None or not self.order:
            return signin_redirect(self)
        return download_script(f"/api/orders/{self.order['id']}/ticket.pdf", with_time_zone=True)

    def _due_order_ids(self, user_id: str) -> list[str]:
        return [self._order_id()]  # expire_order only touches it if it is really due

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

    @rx.var
    def page_title(self) -> str:
        title = self.order.get("ticketTitle")
        return f"Order: {title} · Ticketing" if title else "Order · Ticketing"

    @rx.var
    def can_buy_again(self) -> bool:
        """An order that ran out or was cancelled, for a ticket that is on sale again."""
        return (
            self.order.get("status") in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
            and self.order.get("ticketStatus") == TicketStatus.AVAILABLE
            and not self.refund_message
        )

    @rx.event
    def buy_again(self) -> Iterator[rx.event.EventSpec | None]:
        """Reserve the same ticket anew (the same service call as "Buy" on the ticket page)."""
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        ticket_id = self.order.get("ticketId")
        self.busy, self.error = True, ""
        yield
        try:
            with write_session() as db:
                result = orders.reserve_ticket(
                    db.get_bind(),
                    buyer_id=user["id"],
                    ticket_id=ticket_id,
                    now=utcnow(),
                    expected_price=self.order.get("price"),  # what this buyer agreed to
                )
        except DomainError as exc:
            self.error = exc.message
            self.busy = False
            self._reload_live()
            return
        self.busy = False
        yield rx.redirect(f"/orders/{result.order.id}")

    def _show(self, result: payments.Settlement, started: payments.PaymentStart | None) -> None:
        """Map a settlement to what the buyer sees; the order itself is re-read from the DB."""
        self.action_secret, self._action_intent = "", ""
        if result.outcome == "declined":
            self.pay_error = result.decline_message()
        elif result.outcome == "pending" and result.intent_status == "requires_action" and started:
            self.action_secret, self._action_intent = (
                started.client_secret,
                started.payment_intent_id,
            )
        elif result.outcome == "pending" and result.intent_status == "requires_payment_method":
            self.pay_error = NOT_AUTHENTICATED  # 3-D Secure failed or was cancelled
        elif result.outcome == "pending":
            self.pay_error = STILL_PROCESSING

    async def _run(self, call: Any, *args: Any) -> AsyncIterator[rx.event.EventSpec | None]:
        """Run a blocking payment call off the event loop; the Pay button waits for pay_seq."""
        self.paying, self.pay_error = True, ""
        yield
        try:
            result, started = await asyncio.to_thread(call, *args)
        except DomainError as exc:
            self.pay_error = exc.message
        else:
            self._show(result, started)
            if result.outcome == "paid":
                yield rx.toast.success("Paid. The ticket is yours.")
        self.paying = False
        self.pay_seq += 1
        self._reload_live()

    @rx.event
    async def pay_with(self, payment_method: str) -> AsyncIterator[rx.event.EventSpec | None]:
        """The card form made a payment method in the browser: confirm and settle here.

        The buyer comes from the session cookie and `submit_payment` checks the order is theirs
        and payable; the browser only contributes the (untrusted) payment method id.
        """
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        async for update in self._run(_submit, user["id"], self._order_id(), payment_method):
            yield update

    @rx.event
    async def authenticated(self) -> AsyncIterator[rx.event.EventSpec | None]:
        """Stripe.js finished 3-D Secure: re-read the intent (the one WE started) from Stripe."""
        user = signed_in_user(self)
        if user is None:
            yield signin_redirect(self)
            return
        intent_id = self._action_intent
        if not intent_id:
            return
        async for update in self._run(_confirm, user["id"], self._order_id(), intent_id):
            yield update
