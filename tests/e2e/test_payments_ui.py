"""Paying on the order page: Stripe.js's Card Element, a real (local) Stripe, the real app.

The app gets STRIPE_API_BASE pointing at a localstripe started here, so the page loads
localstripe's Stripe.js stand-in (its Card Element is plain inputs in the page, no iframe).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from e2e.app_server import AppServer, start_app
from e2e.axe import assert_accessible
from e2e.helpers import (
    EventForger,
    SocketCutter,
    confirm,
    list_ticket,
    pay_button,
    seconds_left,
    sign_up,
    unique_email,
)
from tests.support.stripe import LocalStripe, start_localstripe
from ticketing_app.state.orders import OrderState

pytestmark = pytest.mark.e2e

VISA = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
THREE_D_SECURE = "4000002760003184"
# Records whether the Pay button was ever disabled (it must be, from click to the answer).
WATCH_DISABLED = """button => {
  window.payWasDisabled = false;
  new MutationObserver(() => { if (button.disabled) window.payWasDisabled = true; })
    .observe(button, {attributes: true});
}"""


@pytest.fixture(scope="module")
def local_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    server = start_localstripe(tmp_path_factory.mktemp("localstripe-e2e"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pay_app(local_stripe: LocalStripe) -> Iterator[AppServer]:
    server = start_app({**local_stripe.env(), "TICKETING_LOCK_SECONDS": "300"})
    yield server
    server.stop()


def reserve(
    base: str, new_context: Callable[[], BrowserContext], price: str = "25"
) -> tuple[Page, Page, str]:
    """A seller lists a ticket and a buyer reserves it; returns (seller, buyer, title)."""
    seller = new_context().new_page()
    buyer = new_context().new_page()
    sign_up(seller, base, unique_email("seller"))
    title = f"Jazz night {uuid.uuid4().hex[:6]}"
    ticket_id = list_ticket(seller, base, title, price)
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    return seller, buyer, title


def fill_card(page: Page, number: str) -> None:
    """Type a card into the Card Element (localstripe's inputs, found by their placeholders)."""
    card = page.get_by_test_id("card-element")
    for placeholder, value in (
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "30"),
        ("cvc", "123"),
        ("postal_code", "12345"),
    ):
        card.get_by_placeholder(placeholder, exact=True).fill(value)


def test_pay_with_card_then_seller_sees_it_sold(
    pay_app: AppServer,
    local_stripe: LocalStripe,
    new_context: Callable[[], BrowserContext],
    screenshot_dir: Path,
) -> None:
    base = pay_app.url
    seller, buyer, title = reserve(base, new_context)
    # Stripe.js comes from the configured URL (localstripe here), and the page never sees the
    # secret key.
    expect(buyer.locator(f"script[src='{local_stripe.base_url}/js.stripe.com/v3/']")).to_have_count(
        1
    )
    assert "sk_test" not in buyer.content()
    expect(pay_button(buyer)).to_be_enabled()
    expect(pay_button(buyer)).to_have_text("Pay $25.00")  # what will be charged
    fill_card(buyer, VISA)
    buyer.screenshot(path=str(screenshot_dir / "order.png"))

    pay_button(buyer).click()
    outcome = buyer.get_by_test_id("order-outcome")
    expect(outcome).to_contain_text("Paid. The ticket is yours.")
    expect(buyer.get_by_text("Paid", exact=True).first).to_be_visible()
    expect(buyer.locator("#order-countdown")).to_have_count(0)
    buyer.reload()
    expect(outcome).to_contain_text("Paid")  # the server's record, not the page's memory
    assert_accessible(buyer, "order, paid")

    seller.goto(base + "/listings")
    expect(seller.get_by_test_id("listing-row").filter(has_text=title)).to_contain_text("Sold")


def test_declined_card_keeps_countdown_running_then_retry_pays(
    pay_app: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    _, buyer, _ = reserve(pay_app.url, new_context)
    fill_card(buyer, DECLINED_AT_CHARGE)
    expect(pay_button(buyer)).to_be_enabled()
    pay_button(buyer).element_handle().evaluate(WATCH_DISABLED)
    pay_button(buyer).click()

    error = buyer.get_by_test_id("pay-error")
    expect(error).to_contain_text("declined")
    expect(buyer.get_by_test_id("order-outcome")).to_have_count(0)
    countdown = buyer.locator("#order-countdown")
    before = seconds_left(countdown.inner_text())
    time.sleep(2.2)
    assert 0 < seconds_left(countdown.inner_text()) < before
    expect(pay_button(buyer)).to_be_enabled()
    assert buyer.evaluate("window.payWasDisabled") is True  # while the payment was in flight

    fill_card(buyer, VISA)
    pay_button(buyer).click()
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Paid")
    expect(error).to_have_count(0)


def test_third_decline_cancels_the_order(
    pay_app: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    _, buyer, _ = reserve(pay_app.url, new_context)
    fill_card(buyer, DECLINED_AT_CHARGE)
    for attempt in range(3):
        expect(pay_button(buyer)).to_be_enabled()
        pay_button(buyer).click()
        if attempt < 2:
            expect(buyer.get_by_test_id("pay-error")).to_contain_text("declined")
    expect(buyer.get_by_test_id("pay-error")).to_contain_text("cancelled after 3")
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Cancelled")


def test_payment_after_the_reservation_ended_shows_refunded_live(
    pay_app: AppServer, local_stripe: LocalStripe, new_context: Callable[[], BrowserContext]
) -> None:
    """The buyer's card is charged (e.g. from another tab) after the order was cancelled: the
    Stripe webhook settles it, the money goes back, and the open page flips to Refunded."""
    local_stripe.configure_webhook("ticketing-e2e", pay_app.url + "/api/webhooks/stripe")
    _, buyer, _ = reserve(pay_app.url, new_context)
    order_id = buyer.url.rstrip("/").rsplit("/", 1)[-1]
    buyer.get_by_role("button", name="Cancel order", exact=True).click()
    confirm(buyer, "Yes, cancel order")
    outcome = buyer.get_by_test_id("order-outcome")
    expect(outcome).to_contain_text("Cancelled")

    intents = local_stripe.client.v1.payment_intents
    intent = intents.create(
        params={
            "amount": 2500,
            "currency": "usd",
            "payment_method_types": ["card"],
            "metadata": {"order_id": order_id, "attempt": "0"},
        }
    )
    paid = local_stripe.pay_as_browser(intent.id)
    assert paid.status == "succeeded"

    # No reload: the webhook's settlement is pushed to the open page.
    expect(outcome).to_contain_text(
        "Refunded. Your payment was refunded because the reservation had ended", timeout=20_000
    )
    expect(buyer.get_by_text("Refunded", exact=True).first).to_be_visible()
    assert len(local_stripe.refunds_of(intent.id)) == 1


def test_paying_someone_elses_order_by_calling_the_handler_is_refused(
    pay_app: AppServer, local_stripe: LocalStripe, new_context: Callable[[], BrowserContext]
) -> None:
    base = pay_app.url
    _, buyer, _ = reserve(base, new_context)
    order_url = buyer.url
    order_id = order_url.rstrip("/").rsplit("/", 1)[-1]
    intruder = new_context().new_page()
    forger = EventForger(intruder)
    sign_up(intruder, base, unique_email("intruder"))
    intruder.goto(order_url)
    expect(intruder.get_by_text("This order belongs to someone else")).to_be_visible()
    expect(pay_button(intruder)).to_have_count(0)

    token: Any = local_stripe.client.v1.tokens.create(
        params={"card": {"number": VISA, "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    forger.send(f"{OrderState.get_full_name()}.pay_with", {"payment_method": token.card.id})
    expect(intruder.get_by_test_id("pay-error")).to_have_text("This order belongs to someone else")

    intents = local_stripe.client.v1.payment_intents.list(params={"limit": 100}).data
    assert not [i for i in intents if i.to_dict().get("metadata", {}).get("order_id") == order_id]
    buyer.reload()
    expect(buyer.get_by_text("Awaiting payment")).to_be_visible()
    expect(pay_button(buyer)).to_be_enabled()


def test_card_needing_3d_secure_is_authenticated_in_the_browser(
    pay_app: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    _, buyer, _ = reserve(pay_app.url, new_context)
    fill_card(buyer, THREE_D_SECURE)
    pay_button(buyer).click()
    # The server's confirm answers "requires_action"; Stripe.js shows the bank's challenge.
    buyer.get_by_role("button", name="Fail authentication").click()
    expect(buyer.get_by_test_id("pay-error")).to_contain_text("failed authentication")
    expect(buyer.get_by_test_id("order-outcome")).to_have_count(0)

    expect(pay_button(buyer)).to_be_enabled()
    pay_button(buyer).click()
    buyer.get_by_role("button", name="Complete authentication").click()
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Paid. The ticket is yours.")


def test_losing_the_connection_disables_pay_and_keeps_the_card_typed(
    pay_app: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    _, buyer, _ = reserve(pay_app.url, new_context)
    cutter = SocketCutter(buyer)
    buyer.reload()  # the page's socket now runs through the cutter
    expect(pay_button(buyer)).to_be_enabled()
    fill_card(buyer, VISA)

    cutter.cut()
    expect(buyer.get_by_text("Reconnecting…")).to_be_visible()
    expect(buyer.get_by_text("Cannot connect to server")).to_have_count(0)
    expect(pay_button(buyer)).to_be_disabled()
    expect(buyer.get_by_role("button", name="Cancel order", exact=True)).to_be_disabled()

    cutter.restore()
    expect(buyer.get_by_text("Reconnecting…")).to_have_count(0, timeout=20_000)
    card = buyer.get_by_test_id("card-element")
    expect(card.get_by_placeholder("number", exact=True)).to_have_value(VISA)
    expect(card.get_by_placeholder("cvc", exact=True)).to_have_value("123")
    expect(pay_button(buyer)).to_be_enabled()
    pay_button(buyer).click()
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Paid. The ticket is yours.")
