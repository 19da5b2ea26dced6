"""A ticket as the pages' cards print it: shared by the marketplace, the event page and the
seller's listings (each page's state builds its own list of them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ticketing_app.services import fees
from ticketing_app.services.validation import price_number
from ticketing_app.services.views import iso, ticket_view
from ticketing_app.state.common import display_time, money


def ticket_card(ticket: Any, hold_ends_at: datetime | None = None) -> dict[str, Any]:
    """ticket_view plus what the page prints: `total`/`priceText`, the all-in price a buyer
    pays (the buyer fee included, SPEC §12); `holdEndsAt` ("" unless reserved): when the
    reservation holding it runs out, for the countdown."""
    view = ticket_view(ticket)
    total = price_number(fees.all_in_cents(ticket.price_cents))
    return {
        **view,
        "total": total,
        "feeIncluded": total != view["price"],
        "priceText": money(total),
        "listedAt": display_time(view["createdAt"]),
        "holdEndsAt": (iso(hold_ends_at) or "") if view["status"] == "reserved" else "",
    }


# What the marketplace's cards print (pages/market.py) and its countdown's end reads
# (`orderId`): every connecting tab gets twelve of them, and every live push sends them to each
# watcher, so the rest of the ticket stays out (docs/performance.md, issue 19).
MARKET_CARD_FIELDS = ("id", "title", "status", "total", "feeIncluded", "createdAt", "holdEndsAt",
                      "orderId")  # fmt: skip


def market_card(ticket: Any, hold_ends_at: datetime | None = None) -> dict[str, Any]:
    """`ticket_card` cut to MARKET_CARD_FIELDS."""
    card = ticket_card(ticket, hold_ends_at)
    return {name: card[name] for name in MARKET_CARD_FIELDS}
