"""How the pages look: titles that name what is shown, dark mode following the system with
a menu to override it, and one-row navbar and banner on a phone. Also writes the README's
screenshots (desktop and mobile, light and dark) to docs/screenshots."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from e2e.app_server import AppServer
from e2e.helpers import list_ticket, market_search, sign_up, unique_email, wait_ready

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def context_for(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        options.setdefault("viewport", {"width": 1200, "height": 800})
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def is_dark(page: Page) -> bool:
    return page.evaluate("document.documentElement.classList.contains('dark')")


def test_page_titles_name_what_is_on_the_page(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    tag = uuid.uuid4().hex[:6]
    seller = new_context().new_page()
    sign_up(seller, base, unique_email("seller"))
    title = f"Radiohead, Sat 21:00 {tag}"
    ticket_id = list_ticket(seller, base, title, "45")
    expect(seller).to_have_title(f"{title} · Ticketing")
    seller.goto(base + "/listings")
    expect(seller).to_have_title("My listings · Ticketing")

    buyer = new_context().new_page()
    market_search(buyer, base, tag)
    expect(buyer).to_have_title(f"“{tag}”: tickets · Ticketing")
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    expect(buyer).to_have_title(f"Order: {title} · Ticketing")
    buyer.goto(base + "/")
    expect(buyer).to_have_title("Tickets for sale · Ticketing")


def test_dark_mode_follows_the_system_and_the_menu_overrides_it(
    app_server: AppServer, context_for: Callable[..., BrowserContext]
) -> None:
    base = app_server.url
    page = context_for(color_scheme="dark").new_page()
    page.goto(base + "/")
    wait_ready(page)
    assert is_dark(page)
    page.get_by_role("button", name="Colour theme").click()
    page.get_by_role("menuitem", name="Light").click()
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bdark\b"))
    page.reload()
    wait_ready(page)
    assert not is_dark(page)  # the choice is kept
    page.get_by_role("button", name="Colour theme").click()
    page.get_by_role("menuitem", name="Same as system").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))

    light = context_for(color_scheme="light").new_page()
    light.goto(base + "/")
    wait_ready(light)
    assert not is_dark(light)


@pytest.mark.parametrize("width", [360, 390])
def test_on_a_phone_the_navbar_and_test_banner_take_one_row_each(
    app_server: AppServer, context_for: Callable[..., BrowserContext], width: int
) -> None:
    base = app_server.url
    page = context_for(viewport={"width": width, "height": 800}).new_page()
    email = unique_email("phone")
    sign_up(page, base, email)
    nav = page.get_by_role("navigation", name="Main")
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    nav_box = nav.bounding_box()
    assert nav_box and nav_box["height"] <= 64, nav_box  # one row: brand, menu, theme
    banner = page.get_by_test_id("test-mode")
    expect(banner).to_have_text("Test mode — no real money moves", use_inner_text=True)
    banner_box = banner.bounding_box()
    assert banner_box and banner_box["height"] <= 34, banner_box  # one line
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("menu")).to_contain_text(email)
    page.get_by_role("menuitem", name="My orders").click()
    expect(page).to_have_url(re.compile(r"/orders/?$"))
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("menuitem", name="Sign in")).to_be_visible()


def test_screenshots_for_the_readme(
    app_server: AppServer, context_for: Callable[..., BrowserContext], screenshot_dir: Path
) -> None:
    base = app_server.url
    seller = context_for().new_page()
    sign_up(seller, base, unique_email("seller"))
    for title, price in (
        ("Radiohead — Berlin, Row 12", "89.50"),
        ("Champions League Final, Block C", "420"),
        ("Hamilton — Saturday matinee", "135"),
    ):
        response = seller.request.post(base + "/api/tickets", data={"title": title, "price": price})
        assert response.status == 201, response.text()
    for scheme in ("light", "dark"):
        for name, viewport in (("desktop", {"width": 1200, "height": 800}), ("mobile", PHONE)):
            page = context_for(color_scheme=scheme, viewport=viewport).new_page()
            page.goto(base + "/")
            wait_ready(page)
            expect(page.get_by_test_id("ticket-card").first).to_be_visible()
            page.screenshot(path=str(screenshot_dir / f"marketplace-{name}-{scheme}.png"))
