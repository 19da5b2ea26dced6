"""`/orders` (my orders) and `/orders/[id]` (countdown, card form + Pay, Cancel order)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.badges import status_badge
from ticketing_app.components.card_form import card_form
from ticketing_app.components.confirm import confirm_button
from ticketing_app.components.connection import offline
from ticketing_app.components.countdown import countdown
from ticketing_app.components.layout import empty_block, link_button, loading_block, page
from ticketing_app.components.local_format import money_text
from ticketing_app.components.local_time import local_time
from ticketing_app.components.status_row import status_list_page, status_row
from ticketing_app.models import OrderStatus
from ticketing_app.state.nav import NavState
from ticketing_app.state.orders import OrdersState, OrderState

OS = OrderState


def _order_row(order: rx.Var) -> rx.Component:
    return status_row(
        order,
        href="/orders/" + order["id"].to(str),
        state=OrdersState,
        timer_label=rx.icon("timer", size=16),
        testid="order-row",
    )


def orders_list() -> rx.Component:
    return status_list_page(
        OrdersState,
        _order_row,
        title="My orders",
        empty=empty_block(
            "shopping-bag",
            "You have no orders yet.",
            link_button("Browse tickets", "/"),
        ),
    )


def _active_panel() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("timer", size=22),
            rx.text("Reserved for you for", size="3"),
            countdown(
                OS.order["expiresAt"].to(str),
                OS.server_now,
                font_size="1.6rem",
                id="order-countdown",
                on_expire=OS.timer_ended,
                urgent_below=60,
                urgent_text="Less than a minute left: pay now to keep the ticket.",
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.text(
            "Pay before the timer runs out, or the ticket goes back on sale.",
            size="2",
            color_scheme="gray",
        ),
        rx.box(
            rx.text("Card", size="2", weight="medium", as_="div", margin_bottom="0.4rem"),
            card_form(
                stripe_js_url=OS.stripe_js_url,
                publishable_key=OS.publishable_key,
                pay_seq=OS.pay_seq,
                action_secret=OS.action_secret,
                disabled=OS.busy | offline,
                amount=OS.order["total"].to(float),  # what the card is charged
                currency=NavState.currency,
                on_payment_method=OS.pay_with,
                on_authenticated=OS.authenticated,
                id="card-form",
            ),
            width="100%",
        ),
        confirm_button(
            "Cancel order",
            title="Cancel this order?",
            description=rx.text(
                "Your reservation of “",
                OS.order["ticketTitle"],
                "” ends now and the ticket goes back on sale for everyone. "
                "Nothing has been charged.",
            ),
            confirm_label="Yes, cancel order",
            keep_label="Keep order",
            on_confirm=OS.cancel,
            size="3",
            loading=OS.busy,
            disabled=OS.paying | offline,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _ended_panel() -> rx.Component:
    return rx.vstack(
        rx.cond(OS.refund_message != "", _refunded_panel(), _outcome_panel()),
        rx.cond(OS.can_buy_again, _buy_again()),
        spacing="3",
        width="100%",
    )


def _buy_again() -> rx.Component:
    """The reservation ran out or was cancelled, and the ticket is on sale again."""
    return rx.button(
        "Buy again",
        on_click=OS.buy_again,
        size="3",
        width="100%",
        loading=OS.busy,
        disabled=OS.busy | offline,
    )


def _refunded_panel() -> rx.Component:
    return rx.callout(
        rx.text(rx.text.strong("Refunded. "), OS.refund_message, "."),
        icon="undo-2",
        color_scheme="amber",
        data_testid="order-outcome",
    )


def _outcome_panel() -> rx.Component:
    return rx.callout(
        rx.match(
            OS.order["status"],
            (OrderStatus.COMPLETE.value, "Paid. The ticket is yours."),
            (
                OrderStatus.EXPIRED.value,
                "Expired: the reservation ran out before payment. The ticket is back on sale.",
            ),
            (OrderStatus.CANCELLED.value, "Cancelled. The ticket is back on sale."),
            "This order is closed.",
        ),
        icon=rx.match(OS.order["status"], (OrderStatus.COMPLETE.value, "circle-check"), "info"),
        color_scheme=rx.match(OS.order["status"], (OrderStatus.COMPLETE.value, "green"), "gray"),
        data_testid="order-outcome",
    )


def _delivery_panel() -> rx.Component:
    """SPEC §10, once paid: the seller's file (when attached; live when it arrives after the
    sale) and the e-ticket."""
    return rx.cond(
        OS.order["eTicketReady"],
        rx.hstack(
            rx.cond(
                OS.order["hasFile"],
                rx.button(
                    rx.icon("download"),
                    "Download ticket",
                    on_click=OS.download_ticket,
                    data_testid="download-ticket",
                ),
                rx.text(
                    "The seller has not attached the ticket file yet: it appears here when "
                    "they do.",
                    size="2",
                    color_scheme="gray",
                    data_testid="ticket-file-pending",
                ),
            ),
            rx.button(
                rx.icon("qr-code"),
                "Download e-ticket",
                on_click=OS.download_e_ticket,
                variant="soft",
                data_testid="download-e-ticket",
            ),
            spacing="3",
            wrap="wrap",
            align="center",
        ),
    )


def _pay_error() -> rx.Component:
    """Why the last payment attempt failed (a decline, or the server's refusal)."""
    return rx.cond(
        OS.pay_error != "",
        rx.callout(
            OS.pay_error,
            color_scheme="red",
            icon="credit-card",
            role="alert",
            data_testid="pay-error",
        ),
    )


def order_detail() -> rx.Component:
    found = rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Order", size="2", color_scheme="gray"),
                status_badge(OS.order["status"], OS.order["statusText"]),
                align="center",
                spacing="2",
            ),
            rx.heading(OS.order["ticketTitle"], as_="h1", size="7", class_name="user-text"),
            rx.cond(
                OS.event.length() > 0,
                rx.text(
                    rx.link(OS.event["name"], href="/events/" + OS.event["id"].to(str)),
                    " · ",
                    OS.event["whereText"],
                    " · ",
                    local_time(OS.event["startsAt"].to(str)),
                    size="2",
                    color_scheme="gray",
                    data_testid="order-event",
                ),
            ),
            rx.text(
                money_text(OS.order["total"]),
                size="7",
                weight="bold",
                color="var(--accent-11)",
                data_testid="order-total",
            ),
            rx.cond(
                OS.order["fee"].to(float) > 0,
                rx.text(
                    "Ticket ",
                    money_text(OS.order["price"]),
                    " + service fee ",
                    money_text(OS.order["fee"], data_testid="order-fee"),
                    size="2",
                    color_scheme="gray",
                ),
            ),
            rx.link("View ticket", href="/tickets/" + OS.order["ticketId"].to(str), size="2"),
            rx.cond(
                OS.error != "",
                rx.callout(OS.error, color_scheme="red", icon="triangle-alert", role="alert"),
            ),
            _pay_error(),
            rx.divider(),
            rx.cond(OS.order["active"], _active_panel(), _ended_panel()),
            _delivery_panel(),
            spacing="4",
            width="100%",
        ),
        size="4",
        max_width="560px",
        width="100%",
    )
    return page(
        rx.link(
            "← My orders", href="/orders", size="2", margin_bottom="1rem", display="inline-block"
        ),
        rx.cond(
            OS.loading,
            loading_block(),
            rx.cond(
                OS.not_found != "",
                rx.vstack(
                    rx.callout(OS.not_found, icon="circle-x", color_scheme="gray"),
                    _pay_error(),  # a forged Pay on someone else's order is answered here
                    spacing="3",
                ),
                found,
            ),
        ),
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        orders_list,
        route="/orders",
        title="My orders · Ticketing",
        on_load=[NavState.load, OrdersState.load],
    )
    app.add_page(
        order_detail,
        route="/orders/[id]",
        title=OrderState.page_title,
        on_load=[NavState.load, OrderState.load],
    )
