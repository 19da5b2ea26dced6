"""Events end to end (SPEC §9): two sellers list for one event (the second picks it from the
search), a buyer finds it on `/`, sees its tickets cheapest first and buys, while a second
browser in another time zone sees the start in its own zone and the figures change live.
Then a plain HTTP GET of the one-port production server: the event page's HTML names the
event and carries its JSON-LD; /sitemap.xml lists it."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from e2e.app_server import AppServer
from e2e.helpers import sign_up, unique_email, wait_ready

pytestmark = pytest.mark.e2e


def context_in(browser: Browser, zone: str) -> BrowserContext:
    context = browser.new_context(
        viewport={"width": 1200, "height": 800}, timezone_id=zone, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    return context


def list_for_event(page: Page, base: str, title: str, price: str, face: str) -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Price").fill(price)
    page.get_by_label("Face value").fill(face)
    page.get_by_role("button", name="List ticket", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tickets/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def event_card(page: Page, name: str):
    return page.get_by_test_id("event-card").filter(has_text=name)


class Head(HTMLParser):
    """<title>, meta tags and JSON-LD of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.title, self.meta, self.ld = "", {}, []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag == "title":
            self._in = "title"
        elif tag == "meta" and (a.get("name") or a.get("property")):
            self.meta[a.get("name") or a.get("property")] = a.get("content")
        elif tag == "script" and a.get("type") == "application/ld+json":
            self._in = "ld"

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        self._in = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._in == "title":
            self.title += data
        elif self._in == "ld":
            self.ld.append(json.loads(data))


def test_sell_find_buy_live_and_in_the_viewers_zone(
    app_server: AppServer, browser: Browser, screenshot_dir: Path
) -> None:
    base = app_server.url
    tag = uuid.uuid4().hex[:6]
    name = f"Radiohead {tag}"
    paris, tokyo = ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Tokyo")
    day = (datetime.now(paris) + timedelta(days=12)).date()
    local_start = datetime(day.year, day.month, day.day, 20, 0, tzinfo=paris)
    in_tokyo = local_start.astimezone(tokyo)
    in_utc = local_start.astimezone(UTC)

    contexts = [context_in(browser, z) for z in ("Europe/Paris", "UTC", "UTC", "Asia/Tokyo")]
    try:
        seller_a, seller_b, buyer, watcher = (c.new_page() for c in contexts)

        # Seller A lists for a new event (the browser's local time: Paris).
        sign_up(seller_a, base, unique_email("seller-a"))
        seller_a.goto(base + "/tickets/new")
        wait_ready(seller_a)
        seller_a.get_by_label("Event").fill(name)
        seller_a.get_by_label("Venue").fill("Olympia")
        seller_a.get_by_label("City").fill("Paris")
        seller_a.get_by_label("Starts at").fill(local_start.strftime("%Y-%m-%dT%H:%M"))
        list_for_event(seller_a, base, "Stalls, row F", "80", "70")
        expect(seller_a.get_by_test_id("ticket-event")).to_have_text(name)
        expect(seller_a.get_by_test_id("face")).to_have_text("Face value $70.00 · 14% mark-up")
        expect(seller_a.get_by_test_id("event-start")).to_contain_text("20:00")

        # Seller B finds the same event by typing part of its name, and picks it.
        sign_up(seller_b, base, unique_email("seller-b"))
        seller_b.goto(base + "/tickets/new")
        wait_ready(seller_b)
        seller_b.get_by_label("Event").press_sequentially(f"radiohead {tag}", delay=30)
        suggestion = seller_b.get_by_test_id("event-suggestion").filter(has_text=name)
        expect(suggestion).to_have_count(1)
        suggestion.click()
        expect(seller_b.get_by_test_id("chosen-event")).to_contain_text(name)
        list_for_event(seller_b, base, "Balcony, seat 3", "60", "60")
        expect(seller_b.get_by_test_id("ticket-event")).to_have_text(name)

        # A second browser (Tokyo) watches the front door: the start in its own zone.
        watcher.goto(base + "/")
        wait_ready(watcher)
        watcher.get_by_label("Search events").fill(tag)
        watcher.get_by_role("button", name="Find events").click()
        watched = event_card(watcher, name)
        expect(watched).to_have_count(1)
        expect(watched.get_by_test_id("event-count")).to_have_text("2 tickets available")
        expect(watched.get_by_test_id("event-from")).to_have_text("from $60.00")
        expect(watched.get_by_test_id("event-start")).to_contain_text(in_tokyo.strftime("%H:%M"))
        expect(watched.get_by_test_id("event-start")).to_contain_text(str(in_tokyo.day))

        # The buyer (UTC) finds it on `/`, opens it: cheapest first.
        sign_up(buyer, base, unique_email("buyer"))
        buyer.goto(base + "/")
        wait_ready(buyer)
        buyer.get_by_label("Search events").fill(name)
        buyer.get_by_role("button", name="Find events").click()
        card = event_card(buyer, name)
        expect(card.get_by_test_id("event-start")).to_contain_text(in_utc.strftime("%H:%M"))
        buyer.screenshot(path=str(screenshot_dir / "events-front-door.png"))
        card.click()
        expect(buyer).to_have_url(re.compile(r"/events/[0-9a-f-]{36}$"))
        event_url = buyer.url
        expect(buyer.get_by_role("heading", name=name)).to_be_visible()
        expect(buyer).to_have_title(f"{name}, Olympia · Ticketing")  # the tab names the show
        prices = buyer.get_by_test_id("event-ticket-price")
        expect(prices).to_have_text(["$60.00", "$80.00"])
        expect(buyer.get_by_role("link", name="Sell a ticket for this event")).to_have_attribute(
            "href", re.compile(r"/tickets/new\?event=[0-9a-f-]{36}$")
        )
        buyer.screenshot(path=str(screenshot_dir / "event-page.png"))
        buyer.get_by_test_id("event-ticket").first.click()
        buyer.get_by_role("button", name="Buy", exact=True).click()
        expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
        expect(buyer.get_by_test_id("order-event")).to_contain_text(name)

        # The watcher's front door changed without a reload.
        expect(watched.get_by_test_id("event-count")).to_have_text("1 ticket available")
        expect(watched.get_by_test_id("event-from")).to_have_text("from $80.00")
        # ... and so does the event page another visitor has open.
        seller_b.goto(event_url)
        expect(seller_b.get_by_test_id("event-ticket-price")).to_have_text(["$80.00"])
    finally:
        for context in contexts:
            context.close()

    # Without a browser: the one-port server's HTML for the event page and the sitemap.
    event_id = event_url.rstrip("/").rsplit("/", 1)[-1]
    with urllib.request.urlopen(f"{base}/events/{event_id}", timeout=10) as response:
        assert response.status == 200
        head = Head()
        head.feed(response.read().decode())
    assert name in head.title
    assert name in head.meta["description"] and name in head.meta["og:title"]
    assert head.meta["og:url"].endswith(f"/events/{event_id}")
    (ld,) = head.ld
    assert (ld["@type"], ld["name"], ld["location"]["name"]) == ("Event", name, "Olympia")
    assert ld["startDate"] == in_utc.strftime("%Y-%m-%dT%H:%M:00.000Z")
    assert (ld["offers"]["price"], ld["offers"]["priceCurrency"]) == ("80.00", "USD")
    with urllib.request.urlopen(f"{base}/sitemap.xml", timeout=10) as response:
        tree = ET.fromstring(response.read())
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [loc.text or "" for loc in tree.findall("s:url/s:loc", ns)]
    assert any(loc.endswith(f"/events/{event_id}") for loc in locs)
