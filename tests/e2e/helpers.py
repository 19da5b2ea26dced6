"""Page actions shared by the browser tests (what a person does, by accessible names)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from playwright.sync_api import Locator, Page, WebSocketRoute, expect

PASSWORD = "correct-horse-1"


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def wait_ready(page: Page) -> None:
    """The page is hydrated and its state connected (the navbar renders from server state)."""
    navbar = page.locator("[data-testid^='nav-signed-'], [data-testid='nav-menu']")
    expect(navbar.filter(visible=True).first).to_be_visible()  # wide links or the narrow menu


def sign_up(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/signup")
    wait_ready(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page.get_by_test_id("nav-user")).to_have_text(email)


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/signin")
    wait_ready(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def list_ticket(page: Page, base: str, title: str, price: str) -> str:
    """List a ticket through the form; returns its id (from the page it lands on)."""
    page.goto(base + "/tickets/new")
    wait_ready(page)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Price").fill(price)
    page.get_by_role("button", name="List ticket", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tickets/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def search_titles(page: Page, text: str) -> None:
    """Search the marketplace page that is open."""
    page.get_by_label("Search by title").fill(text)
    page.get_by_role("button", name="Search", exact=True).click()


def market_search(page: Page, base: str, text: str) -> None:
    """Open the marketplace and search it."""
    page.goto(base + "/")
    wait_ready(page)
    search_titles(page, text)


def pay_button(page: Page) -> Locator:
    """The order page's Pay button; it names the amount ("Pay $25.00")."""
    return page.get_by_role("button", name=re.compile(r"^Pay\b"))


def seconds_left(text: str) -> int:
    minutes, seconds = text.strip().split(":")
    return int(minutes) * 60 + int(seconds)


class EventForger:
    """Sends a Reflex event the page's UI does not offer, over the page's own WebSocket,
    the way a hostile browser could call any public handler with any arguments."""

    def __init__(self, page: Page) -> None:
        self.server: WebSocketRoute | None = None
        self.router_data: dict[str, Any] = {}
        page.route_web_socket(re.compile(r".*/_event.*"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        self.server = server

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str) and '"router_data"' in message:
                _, _, body = message.partition(",")
                try:
                    data = json.loads(body)
                    event = data[1] if isinstance(data, list) else data["event"]
                    self.router_data = event.get("router_data") or self.router_data
                except (ValueError, KeyError, IndexError, TypeError):
                    pass
            server.send(message)

        ws.on_message(from_page)

    def send(self, handler: str, payload: dict[str, Any] | None = None) -> None:
        assert self.server is not None, "page has no WebSocket yet"
        event = {"name": handler, "payload": payload or {}, "router_data": self.router_data}
        self.server.send("42/_event," + json.dumps(["event", event]))


class SocketCutter:
    """Stands between the page and the backend's WebSocket, like a network that can fail:
    `cut()` drops the page's connection and refuses every reconnect (the server is
    unreachable; the backend itself, and the page's state on it, carry on); `restore()` lets
    the next reconnect through."""

    def __init__(self, page: Page) -> None:
        self.down = False
        self.links: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        page.route_web_socket(re.compile(r".*/_event.*"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        if self.down:  # like a proxy whose upstream is gone: the socket opens, then drops
            server.close()
            ws.close()
            return
        self.links.append((ws, server))

    def cut(self) -> None:
        self.down = True
        for page_side, server_side in self.links:
            server_side.close()
            page_side.close()
        self.links.clear()

    def restore(self) -> None:
        self.down = False


def confirm(page: Page, button: str, *, says: str = "") -> None:
    """Answer the confirmation dialog that an irreversible button opened: check it says
    `says`, then press its `button` ("Yes, cancel order")."""
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    if says:
        expect(dialog).to_contain_text(says)
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0)
