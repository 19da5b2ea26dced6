"""Irreversible buttons ask first: "Cancel listing" and "Cancel order" open an alert dialog
naming what will happen, and keeping changes nothing (the confirming path is exercised by
test_forged_events.py and test_marketplace.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from e2e.app_server import AppServer
from e2e.helpers import confirm, list_ticket, sign_up, unique_email

pytestmark = pytest.mark.e2e


def test_keeping_the_listing_or_the_order_in_the_dialog_changes_nothing(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    seller = new_context().new_page()
    sign_up(seller, base, unique_email("seller"))
    title = f"String quartet {uuid.uuid4().hex[:6]}"
    ticket_id = list_ticket(seller, base, title, "35")

    seller.get_by_role("button", name="Cancel listing", exact=True).click()
    dialog = seller.get_by_role("alertdialog", name="Cancel this listing?")
    expect(dialog).to_contain_text(f"“{title}” comes off sale at once")
    confirm(seller, "Keep listing")
    expect(seller.get_by_text("AVAILABLE", exact=True)).to_be_visible()
    expect(seller.get_by_role("button", name="Save", exact=True)).to_be_enabled()
    assert seller.request.get(f"{base}/api/tickets/{ticket_id}").json()["status"] == "available"

    buyer = new_context().new_page()
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    buyer.get_by_role("button", name="Cancel order", exact=True).click()
    expect(buyer.get_by_role("alertdialog", name="Cancel this order?")).to_contain_text(
        "the ticket goes back on sale for everyone"
    )
    confirm(buyer, "Keep order")
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()
    expect(buyer.locator("#order-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    assert seller.request.get(f"{base}/api/tickets/{ticket_id}").json()["status"] == "reserved"
