"""A reservation running out in the browser: 00:00, "Expired", and the ticket back on sale."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import BrowserContext, expect

from e2e.app_server import AppServer, start_app
from e2e.axe import assert_accessible
from e2e.helpers import list_ticket, sign_up, unique_email

pytestmark = pytest.mark.e2e
LOCK_SECONDS = 8


@pytest.fixture(scope="module")
def short_lock_app() -> Iterator[AppServer]:
    # No re-hold cooldown here: the test buys the ticket again right after its hold ran out.
    server = start_app(
        {"TICKETING_LOCK_SECONDS": str(LOCK_SECONDS), "TICKETING_REHOLD_COOLDOWN_SECONDS": "0"}
    )
    yield server
    server.stop()


def test_countdown_reaches_expired_and_ticket_returns_to_sale(
    short_lock_app: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = short_lock_app.url
    seller = new_context().new_page()
    buyer = new_context().new_page()
    # The buyer's computer clock is half an hour fast: the countdown must still count the
    # server's time (offset = serverNow - Date.now()), not show "Expired" at once.
    buyer.clock.install(time=datetime.now(UTC) + timedelta(minutes=30))
    sign_up(seller, base, unique_email("seller"))
    title = f"Late show {uuid.uuid4().hex[:6]}"
    ticket_id = list_ticket(seller, base, title, "15")
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))

    countdown = buyer.locator("#order-countdown")
    expect(countdown).to_have_text(re.compile(r"^00:0\d$"))
    # Under a minute left: said in words, as an alert.
    expect(buyer.get_by_role("alert").filter(has_text="Less than a minute left")).to_be_visible()
    # The timer runs out; the page then shows the server's final word.
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text(
        "Expired", timeout=(LOCK_SECONDS + 10) * 1000
    )
    expect(buyer.get_by_role("button", name="Cancel order", exact=True)).to_have_count(0)
    expect(buyer.get_by_test_id("urgent")).to_have_count(0)
    assert_accessible(buyer, "order, expired")

    first_order = buyer.url
    buyer.goto(base + f"/tickets/{ticket_id}")
    expect(buyer.get_by_role("button", name="Buy", exact=True)).to_be_enabled()
    seller.goto(base + "/listings")
    row = seller.get_by_test_id("listing-row").filter(has_text=title)
    expect(row).to_contain_text("Available")

    # The ticket is back on sale: the ended order offers to buy it again.
    buyer.goto(first_order)
    buyer.get_by_role("button", name="Buy again", exact=True).click()
    expect(buyer).not_to_have_url(first_order)
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()
    expect(buyer.locator("#order-countdown")).to_have_text(re.compile(r"^00:0\d$"))
    expect(row).to_contain_text("Reserved")  # the seller's open listings page, live
