"""Browsing the marketplace: search, sort by price, pagination and the empty state."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from e2e.app_server import AppServer
from e2e.helpers import market_search, search_titles, sign_up, unique_email, wait_ready

pytestmark = pytest.mark.e2e


def test_search_sort_and_pages(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    tag = uuid.uuid4().hex[:6]
    page = new_context().new_page()
    sign_up(page, base, unique_email("lister"))
    # 13 listings through the REST API (same session cookie), one more than a page holds.
    prices = [17, 5, 30, 12, 8, 25, 3, 14, 9, 21, 11, 6, 40]
    for n, price in enumerate(prices):
        response = page.request.post(
            base + "/api/tickets", data={"title": f"Gig {tag} no {n}", "price": price}
        )
        assert response.status == 201, response.text()

    market_search(page, base, tag)
    cards = page.get_by_test_id("ticket-card")
    expect(cards).to_have_count(12)
    expect(cards.first).to_contain_text(f"Gig {tag} no 12")  # newest first
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()

    page.get_by_role("combobox", name="Sort by").click()
    page.get_by_role("option", name="Price: low to high").click()
    expect(cards.first).to_contain_text("$3.00")
    expect(cards.nth(1)).to_contain_text("$5.00")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("$40.00")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()

    page.get_by_role("combobox", name="Sort by").click()
    page.get_by_role("option", name="Price: high to low").click()
    expect(cards.first).to_contain_text("$40.00")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()

    search_titles(page, f"nothing-like-{tag}")
    expect(page.get_by_text("No tickets match your search.")).to_be_visible()
    page.get_by_role("button", name="Clear search").click()
    expect(cards.first).to_be_visible()


def test_listing_form_shows_field_errors(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    page = new_context().new_page()
    sign_up(page, base, unique_email("sloppy"))
    page.goto(base + "/tickets/new")
    wait_ready(page)
    page.get_by_label("Title").fill("Front row")
    page.get_by_label("Price").fill("-5")
    page.get_by_role("button", name="List ticket", exact=True).click()
    expect(page.get_by_text("Price must be greater than 0")).to_be_visible()
    page.get_by_label("Title").fill("   ")
    page.get_by_label("Price").fill("10")
    page.get_by_role("button", name="List ticket", exact=True).click()
    expect(page.get_by_text("Title is required")).to_be_visible()


def test_the_address_holds_search_sort_and_page(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    tag = uuid.uuid4().hex[:6]
    page = new_context().new_page()
    sign_up(page, base, unique_email("lister"))
    for n, price in enumerate([7, 2, 9, 4, 11, 5, 8, 3, 10, 6, 12, 13, 1]):
        response = page.request.post(
            base + "/api/tickets", data={"title": f"Show {tag} no {n}", "price": price}
        )
        assert response.status == 201, response.text()

    market_search(page, base, tag)
    expect(page).to_have_url(f"{base}/?q={tag}")
    page.get_by_role("combobox", name="Sort by").click()
    page.get_by_role("option", name="Price: low to high").click()
    expect(page).to_have_url(f"{base}/?q={tag}&sort=price_asc")
    cards = page.get_by_test_id("ticket-card")
    expect(cards.first).to_contain_text("$1.00")
    page.get_by_role("button", name="Next").click()
    shared = f"{base}/?q={tag}&sort=price_asc&page=2"
    expect(page).to_have_url(shared)
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("$13.00")

    page.reload()  # the same view after a reload
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(cards.first).to_contain_text("$13.00")
    expect(page.get_by_label("Search by title")).to_have_value(tag)

    page.go_back()  # Back: the first page of the same search and sort
    expect(page).to_have_url(f"{base}/?q={tag}&sort=price_asc")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    expect(cards.first).to_contain_text("$1.00")
    page.go_back()
    expect(page).to_have_url(f"{base}/?q={tag}")
    expect(cards.first).to_contain_text(f"Show {tag} no 12")  # newest first again
    expect(page.get_by_role("combobox", name="Sort by")).to_have_text("Newest first")

    other = new_context().new_page()  # someone who was sent the link
    other.goto(shared)
    wait_ready(other)
    expect(other.get_by_text("Page 2 of 2")).to_be_visible()
    expect(other.get_by_test_id("ticket-card").first).to_contain_text("$13.00")
    expect(other.get_by_label("Search by title")).to_have_value(tag)
    expect(other.get_by_role("combobox", name="Sort by")).to_have_text("Price: low to high")
