"""Every price a buyer sees on the marketplace and event pages is the all-in price (SPEC §12:
the buyer fee included before reserving, never added at a later step)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.money import fees
from ticketing_app.models import Event, Ticket
from ticketing_app.services.events import EventSummary
from ticketing_app.state.cards import ticket_card
from ticketing_app.state.events import event_card

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def a_ticket(price_cents: int) -> Ticket:
    return Ticket(
        id="t1", title="Opera", price_cents=price_cents, user_id="u1", status="available",
        version=1, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def an_event_from(lowest_cents: int | None) -> EventSummary:
    event = Event(
        id="e1", name="Opera night", venue="Hall", city="Oslo", starts_at=NOW + timedelta(days=9),
        status="scheduled", dedupe_key="k", created_by="u1", version=1, created_at=NOW,
        updated_at=NOW,
    )  # fmt: skip
    return EventSummary(event, 1 if lowest_cents else 0, lowest_cents)


def test_cards_show_the_price_with_the_buyer_fee() -> None:
    with fees("7.5", "5"):
        card = ticket_card(a_ticket(1999))
        assert (card["price"], card["total"], card["feeIncluded"]) == (19.99, 21.49, True)
        assert card["priceText"] == "$21.49"
        assert event_card(an_event_from(1999))["fromText"] == "from $21.49"


def test_without_fees_the_card_shows_the_price() -> None:
    with fees("0", "0"):
        card = ticket_card(a_ticket(2500))
        assert (card["total"], card["feeIncluded"], card["priceText"]) == (25, False, "$25.00")
        assert event_card(an_event_from(2500))["fromText"] == "from $25.00"
        assert event_card(an_event_from(None))["fromText"] == ""
