"""Fees (SPEC §12): integer cents, half up; the order snapshots price, fee and total."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.money import fees as fees_on
from ticketing_app.services import fees
from ticketing_app.services.views import order_view


@pytest.mark.parametrize(
    ("price", "percent", "expected"),
    [
        (2000, "10", 200),
        (1999, "10", 200),  # 199.9 -> 200
        (1995, "10", 200),  # 199.5 -> 200: half up
        (1994, "10", 199),  # 199.4 -> 199
        (100, "2.5", 3),  # 2.5 -> 3: half up, not to even
        (300, "2.5", 8),  # 7.5 -> 8
        (1, "49.99", 0),
        (1, "50", 1),
        (100_000_000, "100", 100_000_000),
        (2000, "0", 0),
    ],
)
def test_fee_cents_round_half_up(price: int, percent: str, expected: int) -> None:
    assert fees.fee_cents(price, Decimal(percent)) == expected


def test_breakdown_total_and_proceeds() -> None:
    money = fees.breakdown(1999, buyer_percent=Decimal("7.5"), seller_percent=Decimal("5"))
    assert (money.fee_cents, money.seller_fee_cents) == (150, 100)  # 149.925, 99.95
    assert money.total_cents == 2149
    assert money.proceeds_cents == 1899


def test_negative_input_is_refused() -> None:
    with pytest.raises(ValueError):
        fees.fee_cents(-1, Decimal(1))


def test_reserve_snapshots_the_fees(world, seller, buyer) -> None:
    ticket = world.ticket(seller, price="19.99")
    with fees_on("7.5", "5"):
        result = world.reserve(buyer, ticket)
    order = world.get_order(result.order.id)
    assert (order.price_cents, order.fee_cents, order.seller_fee_cents, order.total_cents) == (
        1999,
        150,
        100,
        2149,
    )
    view = order_view(order, result.ticket)
    assert (view["price"], view["fee"], view["total"]) == (19.99, 1.5, 21.49)
    # A later change of the percentages leaves the order as the buyer was shown it.
    with fees_on("20", "20"):
        again = world.get_order(order.id)
    assert again.total_cents == 2149


def test_without_fees_total_is_the_price(world, seller, buyer) -> None:
    result = world.reserve(buyer, world.ticket(seller, price=20))
    order = world.get_order(result.order.id)
    assert (order.fee_cents, order.seller_fee_cents, order.total_cents) == (0, 0, 2000)
