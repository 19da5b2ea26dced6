"""Status badges with one colour per status, used by every list."""

from __future__ import annotations

import reflex as rx

COLORS = {
    "available": "green",
    "reserved": "amber",
    "sold": "gray",
    "cancelled": "red",
    "created": "amber",
    "expired": "gray",
    "complete": "green",
}


def status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(
            status,
            *[(key, value) for key, value in COLORS.items()],
            "gray",
        ),
        variant="soft",
        size="2",
        data_status=status,
    )
