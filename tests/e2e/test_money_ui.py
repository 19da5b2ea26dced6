"""Fees, balances and payouts in the browser (SPEC §12), against the real app with fees on
and a localstripe: the all-in total shown before "Buy" is what Stripe charges and what a
refund returns; /payouts shows the ledger's sums and requests a payout; the operators' queue
marks it paid, live on the seller's page; a normal user is refused there, forged events too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import BrowserContext, Page, expect

from e2e.app_server import AppServer, start_app
from e2e.axe import assert_accessible
from e2e.helpers import (
    EventForger,
    confirm,
    list_ticket,
    market_search,
    pay_button,
    sign_up,
    unique_email,
)
from e2e.test_payments_ui import VISA, fill_card
from tests.support import World
from tests.support.money import complete_paid, fees, recomputed
from tests.support.stripe import LocalStripe, localstripe_in_environment
from ticketing_app.db import dispose_engines, read_session
from ticketing_app.services import payments
from ticketing_app.state.admin_payouts import AdminPayoutsState

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
FEES = {"TICKETING_BUYER_FEE_PERCENT": "7.5", "TICKETING_SELLER_FEE_PERCENT": "5"}


@pytest.fixture(scope="module")
def local_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    # The test process talks to this localstripe too (it starts a payment as Stripe.js would).
    with localstripe_in_environment(tmp_path_factory.mktemp("localstripe-money")) as server:
        yield server


@pytest.fixture(scope="module")
def money_app(local_stripe: LocalStripe) -> Iterator[AppServer]:
    server = start_app({**local_stripe.env(), **FEES, "TICKETING_LOCK_SECONDS": "300"})
    yield server
    server.stop()
    dispose_engines()


def cents(text: str) -> int:
    """ "$21.49" (the viewer's en-US locale) as 2149."""
    match = re.fullmatch(r"-?\$([\d,]+)\.(\d\d)", text.strip())
    assert match, text
    return int(match[1].replace(",", "")) * 100 + int(match[2])


def shown_total_then_buy(base: str, new_context: Callable[[], BrowserContext], price: str):
    """A seller lists at `price`; a buyer opens the ticket, reads the total, clicks Buy.
    Returns (seller page, buyer page, seller email, total shown in cents)."""
    seller, buyer = new_context().new_page(), new_context().new_page()
    seller_email = unique_email("seller")
    sign_up(seller, base, seller_email)
    tag = uuid.uuid4().hex[:6]
    ticket_id = list_ticket(seller, base, f"Opera {tag}", price)
    sign_up(buyer, base, unique_email("buyer"))
    market_search(buyer, base, tag)  # the marketplace card already shows the all-in price
    card = buyer.get_by_test_id("ticket-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("incl. fees")
    listed = cents(card.get_by_test_id("card-price").inner_text())
    buyer.goto(base + f"/tickets/{ticket_id}")
    total = buyer.get_by_test_id("ticket-total")
    expect(total).to_have_text(re.compile(r"\$\d"))
    expect(buyer.get_by_test_id("ticket-fee")).to_be_visible()
    shown = cents(total.inner_text())
    assert listed == shown  # no fee appears only at a later step
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    return seller, buyer, seller_email, shown


def order_id_of(page: Page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def test_total_before_buy_is_what_stripe_charges(
    money_app: AppServer, local_stripe: LocalStripe, new_context: Callable[[], BrowserContext]
) -> None:
    seller, buyer, _, shown = shown_total_then_buy(money_app.url, new_context, "19.99")
    assert shown == 2149  # 19.99 + 7.5 % (1.49925 -> 1.50)
    expect(buyer.get_by_test_id("order-total")).to_have_text("$21.49")
    expect(buyer.get_by_test_id("order-fee")).to_have_text("$1.50")
    expect(pay_button(buyer)).to_have_text("Pay $21.49")
    fill_card(buyer, VISA)
    pay_button(buyer).click()
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Paid")
    world = World(money_app.database_url)
    intent = local_stripe.intent(world.get_order(order_id_of(buyer)).payment_intent_id)
    assert (intent.amount, intent.status) == (shown, "succeeded")
    [charge] = world.charges(order_id_of(buyer))
    assert charge.amount_cents == shown


def test_refund_returns_the_total_shown(
    money_app: AppServer, local_stripe: LocalStripe, new_context: Callable[[], BrowserContext]
) -> None:
    """The card is charged (the app's own PaymentIntent, confirmed as Stripe.js would) while
    the buyer cancels: the app refunds it, and the refund is the total the buyer was shown."""
    _, buyer, _, shown = shown_total_then_buy(money_app.url, new_context, "40.00")
    assert shown == 4300
    order = World(money_app.database_url).get_order(order_id_of(buyer))
    with read_session(money_app.database_url) as db:
        started = payments.start_payment(
            db, buyer_id=order.user_id, order_id=order.id, now=datetime.now(UTC)
        )
    assert started.amount_cents == shown
    assert local_stripe.pay_as_browser(started.payment_intent_id).status == "succeeded"
    buyer.get_by_role("button", name="Cancel order", exact=True).click()
    confirm(buyer, "Yes, cancel order")
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Refunded", timeout=20_000)
    [refund] = local_stripe.refunds_of(started.payment_intent_id)
    assert refund.amount == shown


def test_payouts_page_shows_the_ledger_and_the_queue_pays_it(
    money_app: AppServer,
    local_stripe: LocalStripe,
    new_context: Callable[[], BrowserContext],
    screenshot_dir: Path,
) -> None:
    base, url = money_app.url, money_app.database_url
    seller, buyer, seller_email, _ = shown_total_then_buy(base, new_context, "19.99")
    fill_card(buyer, VISA)
    pay_button(buyer).click()
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Paid")
    # An older sale, completed 49 h ago (no event): due for release.
    world = World(url)
    seller_id = world.get_ticket(world.get_order(order_id_of(buyer)).ticket_id).user_id
    with fees(FEES["TICKETING_BUYER_FEE_PERCENT"], FEES["TICKETING_SELLER_FEE_PERCENT"]):
        old = world.reserve(world.user(), world.ticket(seller_id, price="10.00")).order
    complete_paid(url, old.id, datetime.now(UTC) - timedelta(hours=49))

    seller.goto(base + "/payouts")  # opening it releases what is due (no sweep needed)
    expect(seller.get_by_test_id("balance-pending")).to_have_text("$18.99")  # 19.99 − 5 %
    expect(seller.get_by_test_id("balance-available")).to_have_text("$9.50")  # 10.00 − 5 %
    sums = recomputed(url, seller_id)
    for key, bucket in (("pending", "pending"), ("available", "available"),
                        ("inPayout", "payout"), ("paidOut", "paid_out")):  # fmt: skip
        assert cents(seller.get_by_test_id(f"balance-{key}").inner_text()) == sums[bucket]
    expect(seller.get_by_test_id("ledger-line")).to_have_count(4)  # 2 sales, 1 release (2 rows)
    assert_accessible(seller, "payouts")

    seller.get_by_role("button", name="Request payout", exact=True).click()  # releases, pays
    expect(seller.get_by_test_id("balance-inPayout")).to_have_text("$9.50")  # 10 − 5 % fee
    expect(seller.get_by_test_id("balance-pending")).to_have_text("$18.99")
    expect(seller.get_by_test_id("balance-available")).to_have_text("$0.00")
    expect(seller.get_by_role("button", name="Request payout", exact=True)).to_be_disabled()
    expect(seller.get_by_test_id("payout-row")).to_contain_text("Requested")

    # A normal user: refused on the page and in a forged event.
    intruder = new_context().new_page()
    forger = EventForger(intruder)
    sign_up(intruder, base, unique_email("intruder"))
    intruder.goto(base + "/admin/payouts")
    expect(intruder.get_by_text("Only operators can see this page.")).to_be_visible()
    [payout] = [p for p in _payouts(url) if p["seller_id"] == seller_id]
    forger.send(
        f"{AdminPayoutsState.get_full_name()}.mark_paid",
        {"form": {"payout_id": payout["id"], "reference": "FORGED"}},
    )
    expect(intruder.get_by_text("Only operators can do this")).to_be_visible()
    assert _payouts(url)[0]["status"] == "requested"

    operator = new_context().new_page()
    operator_email = unique_email("operator")
    sign_up(operator, base, operator_email)
    world.execute("UPDATE users SET is_operator = true WHERE email = :e", e=operator_email)
    operator.goto(base + "/admin/payouts")
    row = operator.get_by_test_id("queue-row").filter(has_text=seller_email)
    expect(row).to_contain_text("$9.50")
    expect(operator.get_by_test_id("open-count")).to_have_text(
        re.compile(r"^(1 payout to pay|([2-9]|\d\d+) payouts to pay)$")
    )
    row.get_by_role("button", name="Mark paid", exact=True).click()  # no reference: refused
    expect(row.get_by_text("Reference is required")).to_be_visible()
    assert _payouts(url)[0]["status"] == "requested"
    row.get_by_label("Reference").fill("TRF-2026-0042")
    row.get_by_role("button", name="Mark paid", exact=True).click()
    expect(row).to_contain_text("TRF-2026-0042")
    expect(operator.get_by_test_id("open-count")).to_have_text(
        re.compile(r"^(Nothing to pay|1 payout to pay|([02-9]|\d\d+) payouts to pay)$")
    )
    assert_accessible(operator, "admin payouts")
    # The seller's open page follows, without a reload.
    expect(seller.get_by_test_id("balance-paidOut")).to_have_text("$9.50")
    expect(seller.get_by_test_id("balance-inPayout")).to_have_text("$0.00")
    expect(seller.get_by_test_id("payout-row")).to_contain_text("TRF-2026-0042")
    assert recomputed(url, seller_id)["paid_out"] == 950
    seller.screenshot(path=str(screenshot_dir / "payouts.png"))

    # On a phone both pages fit the screen: nothing scrolls sideways, the figures and the
    # queue's reference stay readable (README screenshots).
    for page, path, ready, name in (
        (seller, "/payouts", seller.get_by_test_id("balance-paidOut"), "payouts-mobile"),
        (operator, "/admin/payouts", row, "admin-payouts-mobile"),
    ):
        page.set_viewport_size(PHONE)
        page.goto(base + path)
        expect(ready).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)


def _payouts(url: str) -> list[dict]:
    with read_session(url) as db:
        rows = db.execute(sa.text("SELECT id, seller_id, status FROM payouts ORDER BY created_at"))
        return [dict(r._mapping) for r in rows]
