"""Money and times in the viewer's locale and time zone, for the deployment's currency: a
Berlin-formatted browser in Los Angeles on a EUR deployment; the price box takes "75,50"."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from e2e.app_server import AppServer, start_app
from e2e.helpers import market_search, pay_button, sign_up, unique_email, wait_ready

pytestmark = pytest.mark.e2e
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def euro_app() -> Iterator[AppServer]:
    server = start_app({"TICKETING_CURRENCY": "EUR"})
    yield server
    server.stop()


@pytest.fixture
def german_in_la(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(
            locale="de-DE",
            timezone_id="America/Los_Angeles",
            viewport={"width": 1200, "height": 800},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def test_prices_and_times_follow_the_viewers_locale_and_time_zone(
    euro_app: AppServer,
    german_in_la: Callable[[], BrowserContext],
    new_context: Callable[[], BrowserContext],
) -> None:
    base = euro_app.url
    tag = uuid.uuid4().hex[:6]
    seller = german_in_la().new_page()
    sign_up(seller, base, unique_email("verkauf"))
    seller.goto(base + "/tickets/new")
    wait_ready(seller)
    expect(seller.get_by_text("Price (EUR)", exact=True)).to_be_visible()
    seller.get_by_label("Title").fill(f"Oper {tag}")
    seller.get_by_label("Price").fill("75,50")  # the decimal comma
    seller.get_by_role("button", name="List ticket", exact=True).click()
    expect(seller).to_have_url(re.compile(r"/tickets/[0-9a-f-]{36}$"))
    ticket_id = seller.url.rsplit("/", 1)[-1]
    expect(seller.get_by_text("75,50\u00a0€", exact=True)).to_be_visible()

    stored = seller.request.get(f"{base}/api/tickets/{ticket_id}").json()
    assert stored["price"] == 75.5  # stored as 75.50, whatever the viewer's format
    listed = datetime.fromisoformat(stored["createdAt"].replace("Z", "+00:00"))
    local = listed.astimezone(LOS_ANGELES)
    # de-DE, medium date + short time, in Los Angeles (not the server's UTC).
    expect(seller.get_by_text(f"Listed {local:%d.%m.%Y}, {local:%H:%M}")).to_be_visible()
    expect(seller.get_by_label("Price")).to_have_value("75.5")

    market_search(seller, base, tag)
    card = seller.get_by_test_id("ticket-card")
    expect(card).to_contain_text("75,50\u00a0€")
    expect(card).to_contain_text(f"{local:%d.%m.%Y}, {local:%H:%M}")

    # Someone with an American browser sees the same euros their way.
    visitor = new_context().new_page()
    market_search(visitor, base, tag)
    expect(visitor.get_by_test_id("ticket-card")).to_contain_text("€75.50")

    buyer = german_in_la().new_page()
    sign_up(buyer, base, unique_email("kauf"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    expect(pay_button(buyer)).to_have_text("Pay 75,50\u00a0€")
