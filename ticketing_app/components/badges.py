"""Status badges with one colour per status, used by every list."""

from __future__ import annotations

import reflex as rx

from ticketing_app.models import OrderStatus, TicketStatus

COLORS: dict[str, str] = {
    TicketStatus.AVAILABLE: "green",
    TicketStatus.RESERVED: "amber",
    TicketStatus.SOLD: "gray",
    TicketStatus.CANCELLED: "red",
    OrderStatus.CREATED: "amber",
    OrderStatus.EXPIRED: "gray",
    OrderStatus.COMPLETE: "green",
}
assert set(COLORS) == {*TicketStatus, *OrderStatus}, "a status without a colour"


def status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(
            status,
            *[(str(key), value) for key, value in COLORS.items()],
            "gray",
        ),
        variant="soft",
        size="2",
        data_status=status,
    )
