"""The price box reads what people type in their own format (decimal comma, grouping), and the
deployment's currency setting refuses what prices in cents cannot express."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ticketing_app.services.validation import parse_price
from ticketing_app.settings import Settings
from ticketing_app.state.common import price_input


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("75,50", 7550),
        ("75,5", 7550),
        ("75.50", 7550),
        ("1.250,50", 125050),
        ("1,250.50", 125050),
        ("1 250,50", 125050),
        ("1\u202f250,50", 125050),
        ("1,000", 100000),
        (" 20 ", 2000),
    ],
)
def test_typed_prices_in_either_format_mean_the_same_amount(typed: str, cents: int) -> None:
    assert parse_price(price_input(typed)) == cents


@pytest.mark.parametrize("typed", ["75,5,0", "1,2,3", "abc", "", "-5"])
def test_what_is_not_a_price_still_gets_the_services_error(typed: str) -> None:
    with pytest.raises(Exception) as caught:
        parse_price(price_input(typed))
    assert getattr(caught.value, "field", None) == "price"


def test_currency_setting_is_an_iso_code_with_cents(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ticketing_currency == "USD"
    monkeypatch.setenv("TICKETING_CURRENCY", "eur")
    assert Settings().ticketing_currency == "EUR"
    for bad in ("JPY", "EURO", "€"):
        monkeypatch.setenv("TICKETING_CURRENCY", bad)
        with pytest.raises(ValidationError):
            Settings()
