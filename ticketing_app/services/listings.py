"""The seller's own listings, every status, with the hold expiry of reserved ones.

A seller may not read the buyer's order (it is someone else's), but the listings page shows
how long a reservation still holds the ticket, so this read joins the holding order's
`expires_at` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from ticketing_app.models import Order, OrderStatus, Ticket


@dataclass(frozen=True)
class Listing:
    ticket: Ticket
    hold_expires_at: datetime | None


def seller_listings(db: Session, *, seller_id: str, limit: int = 200) -> list[Listing]:
    """The seller's tickets, newest first, each with its active hold's expiry (or None)."""
    with db.begin():
        rows = db.exec(
            select(Ticket, Order.expires_at)
            .join(
                Order,
                (Order.id == Ticket.order_id) & (Order.status == OrderStatus.CREATED),
                isouter=True,
            )
            .where(Ticket.user_id == seller_id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).all()
    return [Listing(ticket=t, hold_expires_at=exp) for t, exp in rows]
