"""Accessibility: axe-core finds nothing on every page state a person meets (each checked in
light and dark mode and at 390×844). The paid and expired order pages are checked where those
states are reached: test_payments_ui.py and test_expiry_ui.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from e2e.app_server import AppServer
from e2e.axe import assert_accessible
from e2e.helpers import confirm, list_ticket, sign_up, unique_email, wait_ready

pytestmark = pytest.mark.e2e


def test_every_page_state_has_no_axe_violations(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    visitor = new_context().new_page()
    for path, what in (("/", "home, signed out"), ("/signin", "sign in"), ("/signup", "sign up")):
        visitor.goto(base + path)
        wait_ready(visitor)
        assert_accessible(visitor, what)
    visitor.goto(base + "/no/such/page")
    wait_ready(visitor)
    assert_accessible(visitor, "the not-found page")

    seller = new_context().new_page()
    sign_up(seller, base, unique_email("seller"))
    seller.goto(base + "/tickets/new")
    wait_ready(seller)
    expect(seller.get_by_label("Title")).to_be_visible()
    assert_accessible(seller, "new ticket, empty")
    seller.get_by_label("Price").fill("-5")
    seller.get_by_role("button", name="List ticket", exact=True).click()
    # Every error at once, each tied to its field, and focus on the first wrong one.
    title_box, price_box = seller.get_by_label("Title"), seller.get_by_label("Price")
    expect(title_box).to_have_accessible_description("Title is required")
    expect(price_box).to_have_accessible_description("Price must be greater than 0")
    expect(title_box).to_have_attribute("aria-invalid", "true")
    expect(price_box).to_have_attribute("aria-invalid", "true")
    expect(title_box).to_be_focused()
    assert_accessible(seller, "new ticket, with errors")
    title_box.fill("Fixed")
    price_box.fill("0")
    seller.get_by_role("button", name="List ticket", exact=True).click()
    expect(price_box).to_be_focused()  # the title error is gone, the price one stays
    expect(title_box).to_have_attribute("aria-invalid", "false")
    expect(price_box).to_have_accessible_description("Price must be greater than 0")
    title = f"Accessible gig {uuid.uuid4().hex[:6]}"
    ticket_id = list_ticket(seller, base, title, "30")
    assert_accessible(seller, "ticket, as its seller")
    seller.goto(base + "/")
    expect(seller.get_by_test_id("ticket-card").first).to_be_visible()
    assert_accessible(seller, "home, signed in")

    buyer = new_context().new_page()
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    expect(buyer.get_by_role("button", name="Buy", exact=True)).to_be_enabled()
    assert_accessible(buyer, "ticket, as a buyer")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    expect(buyer.locator("#order-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    assert_accessible(buyer, "order, active")
    order_url = buyer.url
    buyer.goto(base + "/orders")
    expect(buyer.get_by_test_id("order-row")).to_have_count(1)
    assert_accessible(buyer, "my orders")
    seller.goto(base + "/listings")
    expect(seller.get_by_test_id("listing-row")).to_have_count(1)
    assert_accessible(seller, "my listings")

    buyer.goto(order_url)
    buyer.get_by_role("button", name="Cancel order", exact=True).click()
    expect(buyer.get_by_role("alertdialog")).to_be_visible()
    assert_accessible(buyer, "the cancel-order dialog")
    confirm(buyer, "Yes, cancel order")
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Cancelled")
    assert_accessible(buyer, "order, cancelled")
