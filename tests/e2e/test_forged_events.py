"""Forged Reflex events: the browser can call any public event handler with any arguments, so
every handler that changes data re-checks the signed-in user (from the session cookie) and
ownership on the server. Each test sends the event the page does not offer, over the page's
own WebSocket (`EventForger`), and checks that nothing changed, as people would see it and
through the REST API (the database's answer).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from e2e.app_server import AppServer
from e2e.helpers import (
    EventForger,
    confirm,
    list_ticket,
    market_search,
    sign_up,
    unique_email,
)
from ticketing_app.state.auth import AuthState
from ticketing_app.state.market import MarketState
from ticketing_app.state.orders import OrderState
from ticketing_app.state.ticket import NewTicketState, TicketState

pytestmark = pytest.mark.e2e

SAVE = f"{TicketState.get_full_name()}.save"
CANCEL_LISTING = f"{TicketState.get_full_name()}.cancel_listing"
CANCEL_ORDER = f"{OrderState.get_full_name()}.cancel"
CREATE_LISTING = f"{NewTicketState.get_full_name()}.create"
NOT_THE_SELLER = "Only the seller can change this ticket"
NOT_THE_BUYER = "This order belongs to someone else"


class ReplyRecordingForger(EventForger):
    """An EventForger that also keeps what the server sends back after each forged event, for
    a handler whose refusal the page does not display (so the test knows it was processed)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.replies: list[str] = []
        super().__init__(page)

    def _route(self, ws: WebSocketRoute) -> None:
        super()._route(ws)
        assert self.server is not None

        def from_server(message: str | bytes) -> None:
            if isinstance(message, str):
                self.replies.append(message)
            ws.send(message)  # on_message stops the automatic forwarding to the page

        self.server.on_message(from_server)

    def send(self, handler: str, payload: dict | None = None) -> None:
        self.replies.clear()
        super().send(handler, payload)

    def wait_for_reply(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.replies:
                if text in message:
                    return message
            self.page.wait_for_timeout(100)  # lets Playwright deliver the frames
        raise AssertionError(f"no reply containing {text!r}; got {self.replies!r}")


def listed(
    new_context: Callable[[], BrowserContext], base: str, what: str, price: str
) -> tuple[Page, str, str, str]:
    """A new seller lists "`what` <tag>": (the seller's page, ticket id, title, tag)."""
    tag = uuid.uuid4().hex[:6]
    seller = new_context().new_page()
    sign_up(seller, base, unique_email("seller"))
    title = f"{what} {tag}"
    return seller, list_ticket(seller, base, title, price), title, tag


def intruder_on(
    new_context: Callable[[], BrowserContext], base: str, path: str, forger: type[EventForger]
) -> tuple[Page, EventForger]:
    """Another user, signed up, with `path` open and a forger on its WebSocket."""
    intruder = new_context().new_page()
    forging = forger(intruder)
    sign_up(intruder, base, unique_email("intruder"))
    intruder.goto(base + path)
    return intruder, forging


def api_ticket(page: Page, base: str, ticket_id: str) -> dict:
    response = page.request.get(f"{base}/api/tickets/{ticket_id}")
    assert response.status == 200, response.text()
    return response.json()


def test_non_seller_cannot_edit_a_listing_by_sending_save(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    seller, ticket_id, title, tag = listed(new_context, base, "Chamber quartet", "25")
    intruder, forger = intruder_on(new_context, base, f"/tickets/{ticket_id}", EventForger)
    expect(intruder.get_by_role("heading", name=title)).to_be_visible()
    expect(intruder.get_by_role("button", name="Buy", exact=True)).to_be_visible()
    expect(intruder.get_by_role("button", name="Save", exact=True)).to_have_count(0)

    forger.send(SAVE, {"form": {"title": f"Hijacked {tag}", "price": "1"}})
    expect(intruder.get_by_role("alert")).to_have_text(NOT_THE_SELLER)

    intruder.reload()
    expect(intruder.get_by_role("heading", name=title)).to_be_visible()
    expect(intruder.get_by_text("$25.00")).to_be_visible()
    expect(intruder.get_by_text(f"Hijacked {tag}")).to_have_count(0)
    seller.goto(base + f"/tickets/{ticket_id}")
    expect(seller.get_by_role("heading", name=title)).to_be_visible()
    expect(seller.get_by_label("Price")).to_have_value("25")
    market_search(intruder, base, tag)
    card = intruder.get_by_test_id("ticket-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(title)
    expect(card).to_contain_text("$25.00")
    stored = api_ticket(intruder, base, ticket_id)
    assert (stored["title"], stored["price"], stored["version"]) == (title, 25, 1)


def test_non_seller_cannot_withdraw_a_listing_by_sending_cancel_listing(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    seller, ticket_id, title, tag = listed(new_context, base, "Comedy club", "18")
    intruder, forger = intruder_on(new_context, base, f"/tickets/{ticket_id}", EventForger)
    expect(intruder.get_by_role("button", name="Buy", exact=True)).to_be_visible()
    expect(intruder.get_by_role("button", name="Cancel listing", exact=True)).to_have_count(0)

    forger.send(CANCEL_LISTING)
    expect(intruder.get_by_role("alert")).to_have_text(NOT_THE_SELLER)

    intruder.reload()
    expect(intruder.get_by_text("AVAILABLE", exact=True)).to_be_visible()
    expect(intruder.get_by_role("button", name="Buy", exact=True)).to_be_enabled()
    market_search(intruder, base, tag)
    expect(intruder.get_by_test_id("ticket-card")).to_have_count(1)
    expect(intruder.get_by_test_id("ticket-card")).to_contain_text(title)
    seller.goto(base + "/listings")
    row = seller.get_by_test_id("listing-row").filter(has_text=title)
    expect(row).to_contain_text("Available")
    assert api_ticket(intruder, base, ticket_id)["status"] == "available"


def test_cannot_cancel_someone_elses_order_by_sending_cancel(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    seller, ticket_id, title, _tag = listed(new_context, base, "Ballet matinee", "40")
    buyer = new_context().new_page()
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_id = buyer.url.rstrip("/").rsplit("/", 1)[-1]
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()

    intruder, forger = intruder_on(new_context, base, f"/orders/{order_id}", ReplyRecordingForger)
    assert isinstance(forger, ReplyRecordingForger)
    expect(intruder.get_by_text(NOT_THE_BUYER)).to_be_visible()
    expect(intruder.get_by_role("button", name="Cancel order", exact=True)).to_have_count(0)

    forger.send(CANCEL_ORDER)
    # The page shows no error for this (it shows the order as someone else's already), so
    # wait for the handler's answer on the WebSocket: its `error` var set to the refusal.
    forger.wait_for_reply(f'"error_rx_state_":"{NOT_THE_BUYER}"')

    # The buyer's open page (live) and a fresh load both still show the active reservation.
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()
    expect(buyer.get_by_test_id("order-outcome")).to_have_count(0)
    buyer.reload()
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()
    expect(buyer.locator("#order-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(buyer.get_by_role("button", name="Cancel order", exact=True)).to_be_enabled()
    seller.goto(base + "/listings")
    expect(seller.get_by_test_id("listing-row").filter(has_text=title)).to_contain_text("Reserved")
    response = buyer.request.get(f"{base}/api/orders/{order_id}")
    assert response.status == 200, response.text()
    assert response.json()["status"] == "created"
    assert api_ticket(buyer, base, ticket_id)["status"] == "reserved"


def test_signed_out_browser_cannot_list_a_ticket_by_sending_create(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    tag = uuid.uuid4().hex[:6]

    # A visitor who never signed in.
    visitor = new_context().new_page()
    forger = EventForger(visitor)
    visitor.goto(base + "/")
    expect(visitor.get_by_test_id("nav-signed-out")).to_be_visible()
    forger.send(CREATE_LISTING, {"form": {"title": f"Forged {tag} anonymous", "price": "9"}})
    expect(visitor).to_have_url(re.compile(r"/signin\?next=/$"))

    # Someone who signed out, whose browser still presents the old (now revoked) cookie.
    context = new_context()
    former = context.new_page()
    former_forger = EventForger(former)
    sign_up(former, base, unique_email("former"))
    old_cookies = context.cookies()
    # The session, and the known-device cookie sign-in sets (it signs nobody in by itself).
    assert sorted(c["name"] for c in old_cookies if c["value"]) == ["device", "session"]
    former.get_by_role("button", name="Sign out", exact=True).click()
    expect(former.get_by_test_id("nav-signed-out")).to_be_visible()
    context.add_cookies(old_cookies)  # type: ignore[arg-type]
    former.goto(base + "/")
    expect(former.get_by_test_id("nav-signed-out")).to_be_visible()
    # The revoked session cookie is back in the browser (beside the device cookie).
    assert sorted(c["name"] for c in context.cookies() if c["value"]) == ["device", "session"]
    former_forger.send(CREATE_LISTING, {"form": {"title": f"Forged {tag} revoked", "price": "9"}})
    expect(former).to_have_url(re.compile(r"/signin\?next=/$"))

    response = visitor.request.get(f"{base}/api/tickets", params={"q": tag, "status": "all"})
    assert response.status == 200, response.text()
    assert response.json() == []
    market_search(visitor, base, tag)
    expect(visitor.get_by_text("No tickets match your search.")).to_be_visible()
    expect(visitor.get_by_test_id("ticket-card")).to_have_count(0)


def test_seller_cancels_listing_with_the_button_and_it_leaves_the_marketplace(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    seller, ticket_id, title, tag = listed(new_context, base, "Folk festival day pass", "60")

    shopper = new_context().new_page()
    market_search(shopper, base, tag)
    expect(shopper.get_by_test_id("ticket-card")).to_have_count(1)
    expect(shopper.get_by_test_id("ticket-card")).to_contain_text(title)
    shopper.get_by_test_id("ticket-card").click()
    expect(shopper).to_have_url(re.compile(f"/tickets/{ticket_id}$"))
    expect(shopper.get_by_role("button", name="Sign in to buy")).to_be_visible()

    seller.get_by_role("button", name="Cancel listing", exact=True).click()
    confirm(seller, "Yes, cancel listing", says=f"“{title}” comes off sale")
    expect(
        seller.get_by_text("This listing was cancelled and can no longer be edited.")
    ).to_be_visible()
    expect(seller.get_by_text("CANCELLED", exact=True)).to_be_visible()
    expect(seller.get_by_text("Listing cancelled", exact=True)).to_be_visible()  # the toast
    expect(seller.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    expect(seller.get_by_role("button", name="Cancel listing", exact=True)).to_have_count(0)

    # The shopper's open ticket page follows (pushed), and the marketplace no longer lists it.
    expect(shopper.get_by_text("This ticket is no longer for sale.")).to_be_visible()
    expect(shopper.get_by_role("button", name="Sign in to buy")).to_have_count(0)
    market_search(shopper, base, tag)
    expect(shopper.get_by_text("No tickets match your search.")).to_be_visible()
    seller.goto(base + "/listings")
    expect(seller.get_by_test_id("listing-row").filter(has_text=title)).to_contain_text("Cancelled")
    assert api_ticket(seller, base, ticket_id)["status"] == "cancelled"


REFUSED_LINE = "refused a forged event"
WRONG_ARGUMENTS = [
    (CREATE_LISTING, {"form": "title=Forged&price=1"}),
    (SAVE, {"form": ["Forged", "1"]}),
    (f"{AuthState.get_full_name()}.signin", {"form": 5}),
    (f"{MarketState.get_full_name()}.search", {"form": {"q": {"$ne": ""}}}),
    (f"{TicketState.get_full_name()}.buy", {"surprise": 1}),  # no such argument
    (CREATE_LISTING, {}),  # a missing argument
]


def test_events_with_wrong_argument_types_log_one_line_each(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    """Each of these used to log a full traceback (a log-flooding vector) and toast "An
    error occurred"; now one line each, nothing changed, and the page keeps working."""
    base = app_server.url
    tag = uuid.uuid4().hex[:6]
    intruder, forger = intruder_on(new_context, base, "/", EventForger)
    expect(intruder.get_by_test_id("nav-user")).to_be_visible()
    log_start = len(app_server.log_tail(10**9))

    def new_log() -> str:
        return app_server.log_tail(10**9)[log_start:]

    for handler, payload in WRONG_ARGUMENTS:
        forger.send(handler, payload)
    deadline = time.monotonic() + 20
    while new_log().count(REFUSED_LINE) < len(WRONG_ARGUMENTS) and time.monotonic() < deadline:
        intruder.wait_for_timeout(100)
    logged = new_log()
    assert logged.count(REFUSED_LINE) == len(WRONG_ARGUMENTS), logged
    assert "Traceback" not in logged and "Backend Exception" not in logged, logged
    assert len([line for line in logged.splitlines() if line.strip()]) == len(WRONG_ARGUMENTS)
    expect(intruder.get_by_text("An error occurred.")).to_have_count(0)

    list_ticket(intruder, base, f"Still works {tag}", "12")  # the same socket, still served
    response = intruder.request.get(f"{base}/api/tickets", params={"q": "Forged", "status": "all"})
    assert response.status == 200 and response.json() == []
