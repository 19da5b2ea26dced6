"""Service fees (SPEC §12): pure arithmetic on integer cents, no database, no I/O.

The buyer fee is added on top of the ticket's price (the all-in total the buyer sees before
reserving and Stripe charges); the seller fee is kept from the seller's proceeds. Each is
`price × percent / 100`, rounded to whole cents half up (0.5 cent → 1 cent), computed in
`Decimal` so that no binary float ever touches money (docs/decisions.md). The percentages come
from TICKETING_BUYER_FEE_PERCENT / TICKETING_SELLER_FEE_PERCENT unless given.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ticketing_app.settings import get_settings

_CENT = Decimal(1)


def fee_cents(price_cents: int, percent: Decimal) -> int:
    """`percent` % of `price_cents`, in whole cents, rounded half up."""
    if price_cents < 0 or percent < 0:
        raise ValueError("price and percent must not be negative")
    return int((Decimal(price_cents) * percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Breakdown:
    """What one sale costs and yields, in cents."""

    price_cents: int
    fee_cents: int  # the buyer fee, on top of the price
    seller_fee_cents: int  # kept from the seller's proceeds

    @property
    def total_cents(self) -> int:
        """What the buyer pays (and Stripe charges, and a refund returns)."""
        return self.price_cents + self.fee_cents

    @property
    def proceeds_cents(self) -> int:
        """What the seller's ledger is credited: price − seller fee."""
        return self.price_cents - self.seller_fee_cents


def breakdown(
    price_cents: int,
    *,
    buyer_percent: Decimal | None = None,
    seller_percent: Decimal | None = None,
) -> Breakdown:
    """The fees of a sale at `price_cents` (percentages default to the settings)."""
    settings = get_settings()
    if buyer_percent is None:
        buyer_percent = settings.ticketing_buyer_fee_percent
    if seller_percent is None:
        seller_percent = settings.ticketing_seller_fee_percent
    return Breakdown(
        price_cents=price_cents,
        fee_cents=fee_cents(price_cents, buyer_percent),
        seller_fee_cents=fee_cents(price_cents, seller_percent),
    )


def all_in_cents(price_cents: int) -> int:
    """What a buyer pays for a ticket at `price_cents`, buyer fee included: the one price
    every page shows a buyer (list cards, "from" prices, the ticket page), so no fee appears
    only at the last step."""
    return breakdown(price_cents).total_cents
