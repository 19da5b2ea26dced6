"""The marketplace end to end: two people in two browsers, the real app, a real database."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from e2e.app_server import AppServer
from e2e.helpers import (
    EventForger,
    confirm,
    list_ticket,
    pay_button,
    search_titles,
    seconds_left,
    sign_in,
    sign_up,
    unique_email,
    wait_ready,
)
from ticketing_app.state.ticket import TicketState

pytestmark = pytest.mark.e2e


def test_list_buy_countdown_cancel_and_edit(
    app_server: AppServer,
    new_context: Callable[[], BrowserContext],
    screenshot_dir: Path,
) -> None:
    base = app_server.url
    tag = uuid.uuid4().hex[:6]
    seller = new_context().new_page()
    seller_forger = EventForger(seller)
    buyer = new_context().new_page()

    # A signs up and lists tickets.
    sign_up(seller, base, unique_email("seller"))
    list_ticket(seller, base, f"Opera night, stalls row C {tag}", "85")
    list_ticket(seller, base, f"Football derby, north stand {tag}", "42.50")
    title = f"Jazz at the Lighthouse {tag}"
    ticket_id = list_ticket(seller, base, title, "25")
    expect(seller.get_by_role("button", name="Save", exact=True)).to_be_visible()
    expect(seller.get_by_role("button", name="Buy", exact=True)).to_have_count(0)

    # B signs up, finds it on the marketplace (newest first) and buys it.
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + "/")
    wait_ready(buyer)
    cards = buyer.get_by_test_id("ticket-card")
    expect(cards.first).to_contain_text(title)
    expect(buyer.get_by_text("Test mode — payments use a local test Stripe")).to_be_visible()
    search_titles(buyer, tag)
    expect(cards).to_have_count(3)
    buyer.screenshot(path=str(screenshot_dir / "marketplace.png"))
    cards.filter(has_text=title).click()
    expect(buyer).to_have_url(re.compile(f"/tickets/{ticket_id}$"))
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_url = buyer.url

    # The countdown ticks down in the browser.
    countdown = buyer.locator("#order-countdown")
    expect(countdown).to_have_text(re.compile(r"^\d\d:\d\d$"))
    first = countdown.inner_text()
    assert 100 <= seconds_left(first) <= 120
    expect(countdown).not_to_have_text(first, timeout=5_000)
    assert seconds_left(countdown.inner_text()) < seconds_left(first)
    # No Stripe here (test_payments_ui.py pays, and takes order.png): Pay cannot be used.
    expect(pay_button(buyer)).to_be_disabled()
    expect(pay_button(buyer)).to_have_text("Pay $25.00")
    expect(buyer.get_by_test_id("urgent")).to_have_count(0)  # more than a minute left
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()

    # A sees it reserved, with the hold's countdown, and cannot edit it (and is told why).
    seller.goto(base + "/listings")
    row = seller.get_by_test_id("listing-row").filter(has_text=title)
    expect(row).to_contain_text("Reserved")
    expect(row.get_by_role("timer")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    seller.goto(base + f"/tickets/{ticket_id}")
    expect(seller.get_by_text("Cannot edit a reserved ticket")).to_be_visible()
    expect(seller.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    expect(seller.get_by_role("button", name="Cancel listing", exact=True)).to_have_count(0)
    # ...and the handler refuses too, when a hostile page sends the edit anyway.
    seller_forger.send(
        f"{TicketState.get_full_name()}.save", {"form": {"title": "Hijacked", "price": "1"}}
    )
    expect(seller.get_by_role("alert")).to_contain_text("Cannot edit a reserved ticket")
    seller.reload()
    expect(seller.get_by_role("heading", name=title)).to_be_visible()

    # Someone else's order is not shown to the seller (the server checks the buyer).
    seller.goto(order_url)
    expect(seller.get_by_text("This order belongs to someone else")).to_be_visible()
    expect(seller.get_by_role("button", name="Cancel order", exact=True)).to_have_count(0)

    # B's orders list shows the active order with its countdown.
    buyer.goto(base + "/orders")
    order_row = buyer.get_by_test_id("order-row").filter(has_text=title)
    expect(order_row).to_contain_text("Awaiting payment")
    expect(order_row.get_by_role("timer")).to_have_text(re.compile(r"^\d\d:\d\d$"))

    # B cancels; the order says so and the ticket is on sale again.
    buyer.goto(order_url)
    buyer.get_by_role("button", name="Cancel order", exact=True).click()
    confirm(buyer, "Yes, cancel order", says=f"Your reservation of “{title}” ends now")
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Cancelled")
    expect(pay_button(buyer)).to_have_count(0)
    buyer.goto(base + f"/tickets/{ticket_id}")
    expect(buyer.get_by_role("button", name="Buy", exact=True)).to_be_enabled()

    # A edits the price now that it is available again.
    seller.goto(base + "/listings")
    expect(seller.get_by_test_id("listing-row").filter(has_text=title)).to_contain_text("Available")
    seller.goto(base + f"/tickets/{ticket_id}")
    price = seller.get_by_label("Price")
    expect(price).to_have_value("25")
    price.fill("30")
    seller.get_by_role("button", name="Save", exact=True).click()
    expect(seller.get_by_text("$30.00")).to_be_visible()
    buyer.goto(base + f"/tickets/{ticket_id}")
    expect(buyer.get_by_text("$30.00")).to_be_visible()


def test_wrong_password_is_refused(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    page = new_context().new_page()
    email = unique_email("forgetful")
    sign_up(page, base, email)
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_test_id("nav-signed-out")).to_be_visible()

    sign_in(page, base, email, "not-my-password")
    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin"))
    expect(page.get_by_test_id("nav-signed-out")).to_be_visible()

    sign_in(page, base, email)
    expect(page.get_by_test_id("nav-user")).to_have_text(email)


def test_signup_errors_are_inline(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    page = new_context().new_page()
    page.goto(base + "/signup")
    wait_ready(page)
    page.get_by_label("Email").fill("someone@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page.get_by_text(re.compile("Password must be"))).to_be_visible()


def test_protected_pages_send_anonymous_visitors_to_sign_in(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    page = new_context().new_page()
    page.goto(base + "/tickets/new")
    expect(page).to_have_url(re.compile(r"/signin\?next=/tickets/new$"))
    email = unique_email("late")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/signup\?next=/tickets/new$"))
    wait_ready(page)
    # A client-side navigation: the sign-in form may still be on screen for a moment, and
    # typing into it would be lost when the sign-up form replaces it.
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct-horse-1")
    expect(page.get_by_label("Email")).to_have_value(email)
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tickets/new/?$"))  # static server may add "/"
    expect(page.get_by_label("Title")).to_be_visible()


def test_seller_cannot_buy_own_ticket_even_by_calling_the_handler(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    page = new_context().new_page()
    forger = EventForger(page)
    sign_up(page, base, unique_email("self-buyer"))
    ticket_id = list_ticket(page, base, f"My own ticket {uuid.uuid4().hex[:6]}", "10")

    page.goto(base + f"/tickets/{ticket_id}")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Buy", exact=True)).to_have_count(0)

    forger.send(f"{TicketState.get_full_name()}.buy")
    expect(page.get_by_text("You cannot buy your own ticket")).to_be_visible()
    page.reload()
    expect(page.get_by_text("AVAILABLE")).to_be_visible()
    page.goto(base + "/orders")
    expect(page.get_by_text("You have no orders yet.")).to_be_visible()


def test_anonymous_visitor_is_asked_to_sign_in_to_buy(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    seller = new_context().new_page()
    sign_up(seller, base, unique_email("seller2"))
    ticket_id = list_ticket(seller, base, f"Matinee {uuid.uuid4().hex[:6]}", "12")
    visitor = new_context().new_page()
    visitor.goto(base + f"/tickets/{ticket_id}")
    expect(visitor.get_by_role("button", name="Sign in to buy")).to_be_visible()
    expect(visitor.get_by_role("button", name="Buy", exact=True)).to_have_count(0)
