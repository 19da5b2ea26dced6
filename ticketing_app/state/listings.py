"""The seller's listings (`/listings`) with live status and hold countdowns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx

from ticketing_app import live
from ticketing_app.db import read_session
from ticketing_app.models import TicketStatus
from ticketing_app.services import listings
from ticketing_app.services.views import iso
from ticketing_app.state.cards import ticket_card
from ticketing_app.state.common import status_label
from ticketing_app.state.live_page import SignedInList, list_row


def _row(card: dict[str, Any], hold_expires_at: datetime | None) -> dict[str, Any]:
    withdrawn = card.get("withdrawnReason") or ""
    return list_row(
        {**card, "statusText": "Withdrawn" if withdrawn else status_label(card["status"])},
        title=card["title"],
        date_label="Listed",
        date_at=card["createdAt"],
        # SPEC §10: whether the buyer will get the seller's file
        detail=" · " + ("File attached ✓" if card.get("hasFile") else "No ticket file"),
        timer_ends_at=iso(hold_expires_at) if card["status"] == TicketStatus.RESERVED else "",
        note=withdrawn,  # why it left the market without the seller cancelling it
    )


class ListingsState(SignedInList, rx.State):
    """`rows`: the seller's tickets, with a countdown to the end of the active hold."""

    def _topics(self, user_id: str) -> list[str]:
        return [live.seller_topic(user_id)]

    def _read_rows(self, user_id: str) -> list[dict[str, Any]]:
        with read_session() as db:
            rows = listings.seller_listings(db, seller_id=user_id)
        return [_row(ticket_card(row.ticket), row.hold_expires_at) for row in rows]

    def _due_order_ids(self, user_id: str) -> list[str]:
        """Holds on this seller's tickets (the rows were read for this seller)."""
        return [
            str(item["orderId"])
            for item in self.rows
            if item.get("status") == TicketStatus.RESERVED and item.get("orderId")
        ]
