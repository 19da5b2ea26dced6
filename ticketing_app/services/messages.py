"""What the user is told, written once: every service, page and route uses these."""

from __future__ import annotations

TICKET_NOT_FOUND = "Ticket not found"
ORDER_NOT_FOUND = "Order not found"
ALREADY_RESERVED = "Ticket is already reserved"
TICKET_SOLD = "Ticket has already been sold"
TICKET_NOT_FOR_SALE = "Ticket is no longer for sale"
OWN_TICKET = "You cannot buy your own ticket"
NOT_YOUR_ORDER = "This order belongs to someone else"
ORDER_COMPLETE = "Cannot cancel a completed order"
CARD_DECLINED = "Your card was declined."
CANCELLED_AFTER_DECLINES = "The order was cancelled after {n} declined payments."
EVENT_STARTED = "This event has already started"
EVENT_CANCELLED = "This event was cancelled"


def declined(stripe_message: str | None, *, order_cancelled: bool, attempts: int) -> str:
    """The buyer's message for a declined card: Stripe's words (or ours), and whether that
    decline cancelled the order."""
    message = stripe_message or CARD_DECLINED
    if order_cancelled:
        message = f"{message} {CANCELLED_AFTER_DECLINES.format(n=attempts)}"
    return message


def price_changed(price: str) -> str:
    return f"The price of this ticket is now {price}. Check it and buy again."


def rehold_cooldown(wait_seconds: float, until: str) -> str:
    """A buyer whose reservation of this ticket ended unpaid, asking again too soon."""
    minutes = max(1, -(-int(wait_seconds) // 60))
    wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return (
        "Your last reservation of this ticket ended without payment. "
        f"You can reserve it again in {wait} (at {until})."
    )


def too_many_holds(limit: int) -> str:
    return (
        f"You can hold at most {limit} reservation{'s' if limit != 1 else ''} at once. "
        "Pay for or cancel one of them first."
    )


def too_many_for_event(limit: int) -> str:
    return (
        f"You can hold or buy at most {limit} ticket{'s' if limit != 1 else ''} for one event, "
        "and you have reached that."
    )
