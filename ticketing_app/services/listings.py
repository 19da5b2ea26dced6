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


def hold_expiries(db: Session, *, ticket_ids: list[str]) -> dict[str, datetime]:
    """When the active hold on each of these tickets ends (reserved ones only): what anyone
    browsing may see of a reservation — not who holds it, nor the order itself."""
    if not ticket_ids:
        return {}
    rows = db.exec(
        select(Ticket.id, Order.expires_at)
        .join(Order, (Order.id == Ticket.order_id) & (Order.status == "created"))
        .where(Ticket.id.in_(ticket_ids), Ticket.status == "reserved")  # type: ignore[attr-defined]
    ).all()
    return dict(rows)
