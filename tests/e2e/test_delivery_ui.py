"""Delivering the ticket in the browser (SPEC §10): the seller attaches the file on the ticket
page (a wrong file refused inline), a buyer pays and downloads it — the same bytes — and the
e-ticket; another buyer cannot fetch the file; the e-ticket's /verify/ page shows the masked
holder. The real app, a real Chromium, a local Stripe."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdf
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from e2e.app_server import AppServer, start_app
from e2e.helpers import list_ticket, pay_button, sign_up, unique_email, wait_ready
from tests.delivery.sample_files import HTML, oversized_pdf, pdf
from tests.support.stripe import LocalStripe, start_localstripe
from ticketing_app.services.files import MAX_FILE_BYTES

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    server = start_localstripe(tmp_path_factory.mktemp("localstripe-delivery"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def delivery_app(local_stripe: LocalStripe) -> Iterator[AppServer]:
    server = start_app({**local_stripe.env(), "TICKETING_LOCK_SECONDS": "300"})
    yield server
    server.stop()


def choose_file(page: Page, name: str, data: bytes, mime: str) -> None:
    page.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


def pay(buyer: Page) -> None:
    card = buyer.get_by_test_id("card-element")
    for placeholder, value in (
        ("number", "4242424242424242"),
        ("exp_month", "12"),
        ("exp_year", "30"),
        ("cvc", "123"),
        ("postal_code", "12345"),
    ):
        card.get_by_placeholder(placeholder, exact=True).fill(value)
    pay_button(buyer).click()
    expect(buyer.get_by_test_id("order-outcome")).to_contain_text("Paid")


def test_seller_attaches_buyer_downloads_others_cannot(
    delivery_app: AppServer,
    new_context: Callable[[], BrowserContext],
    screenshot_dir: Path,
) -> None:
    base = delivery_app.url
    seller = new_context().new_page()
    sign_up(seller, base, unique_email("seller"))
    title = f"Stalls row C {uuid.uuid4().hex[:6]}"
    ticket_id = list_ticket(seller, base, title, "30")

    choose_file(seller, "ticket.pdf", HTML, "application/pdf")  # HTML under a PDF name
    expect(seller.get_by_test_id("file-error")).to_contain_text("must be a PDF, PNG or JPEG")
    original = pdf("Row C seat 7")
    choose_file(seller, "Row C.pdf", original, "application/pdf")
    expect(seller.get_by_test_id("file-attached")).to_contain_text("File attached ✓ Row C.pdf")
    expect(seller.get_by_test_id("file-error")).to_have_count(0)
    seller.screenshot(path=str(screenshot_dir / "ticket-file.png"))
    seller.goto(base + "/listings")
    row = seller.get_by_test_id("listing-row").filter(has_text=title)
    expect(row).to_contain_text("File attached ✓")

    buyer = new_context().new_page()
    sign_up(buyer, base, unique_email("buyer"))
    buyer.goto(base + f"/tickets/{ticket_id}")
    buyer.get_by_role("button", name="Buy", exact=True).click()
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_id = buyer.url.rstrip("/").rsplit("/", 1)[-1]
    expect(buyer.get_by_test_id("download-ticket")).to_have_count(0)  # not before paying
    pay(buyer)

    with buyer.expect_download() as got:
        buyer.get_by_test_id("download-ticket").click()
    download = got.value
    assert download.suggested_filename == "Row C.pdf"
    assert Path(download.path()).read_bytes() == original

    with buyer.expect_download() as got:
        buyer.get_by_test_id("download-e-ticket").click()
    e_ticket = Path(got.value.path()).read_bytes()
    assert title in pypdf.PdfReader(io.BytesIO(e_ticket)).pages[0].extract_text()
    buyer.screenshot(path=str(screenshot_dir / "order-delivered.png"))

    other = new_context().new_page()
    sign_up(other, base, unique_email("other"))
    assert other.request.get(f"{base}/api/tickets/{ticket_id}/file").status == 403
    assert other.request.get(f"{base}/api/orders/{order_id}/ticket.pdf").status == 403

    url = buyer.request.get(f"{base}/api/orders/{order_id}").json()["eTicket"]["url"]
    assert url.startswith(f"{base}/verify/")
    scanner = new_context().new_page()  # whoever scans it: not signed in
    scanner.goto(url)
    expect(scanner.get_by_test_id("verify-valid")).to_contain_text(title)
    holder = scanner.get_by_test_id("verify-holder")
    expect(holder).to_contain_text(re.compile(r"Holder: b\*\*\*@example\.com"))
    scanner.goto(f"{base}/verify/{'A' * 24}")
    expect(scanner.get_by_test_id("verify-invalid")).to_contain_text("not valid")


def fill_listing(page: Page, base: str, title: str, price: str) -> None:
    page.goto(base + "/tickets/new")
    wait_ready(page)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Price").fill(price)


def test_listing_with_a_file_and_with_a_refused_file(
    delivery_app: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    """The listing form's own file field (decision 70): a good file lists the ticket with it
    attached; a refused one shows why on the form and lists nothing (the form keeps what was
    typed)."""
    base = delivery_app.url
    seller = new_context().new_page()
    sign_up(seller, base, unique_email("lister"))
    tag = uuid.uuid4().hex[:6]

    refused_title = f"Refused {tag}"
    fill_listing(seller, base, refused_title, "25")
    choose_file(seller, "ticket.pdf", HTML, "application/pdf")  # HTML under a PDF name
    expect(seller.get_by_test_id("new-file-chosen")).to_contain_text("ticket.pdf")
    seller.get_by_role("button", name="List ticket", exact=True).click()
    expect(seller.get_by_test_id("new-file-error")).to_contain_text("must be a PDF, PNG or JPEG")
    expect(seller).to_have_url(re.compile(r"/tickets/new/?$"))
    expect(seller.get_by_label("Title")).to_have_value(refused_title)
    too_big = oversized_pdf(MAX_FILE_BYTES)
    choose_file(seller, "huge.pdf", too_big, "application/pdf")
    seller.get_by_role("button", name="List ticket", exact=True).click()
    expect(seller.get_by_test_id("new-file-error")).to_contain_text("at most 5 MB")
    expect(seller).to_have_url(re.compile(r"/tickets/new/?$"))
    mine = seller.request.get(f"{base}/api/tickets", params={"q": tag, "status": "all"})
    assert mine.status == 200, mine.text()
    assert mine.json() == []  # nothing was listed

    title = f"With file {tag}"
    fill_listing(seller, base, title, "25")
    original = pdf("Row D seat 1")
    choose_file(seller, "Row D.pdf", original, "application/pdf")
    seller.get_by_role("button", name="List ticket", exact=True).click()
    expect(seller).to_have_url(re.compile(r"/tickets/[0-9a-f-]{36}$"))
    expect(seller.get_by_role("heading", name=title)).to_be_visible()
    expect(seller.get_by_test_id("file-attached")).to_contain_text("File attached ✓ Row D.pdf")
    ticket_id = seller.url.rstrip("/").rsplit("/", 1)[-1]
    got = seller.request.get(f"{base}/api/tickets/{ticket_id}/file")
    assert got.status == 200 and got.body() == original
    listed = seller.request.get(f"{base}/api/tickets", params={"q": tag, "status": "all"})
    assert [t["title"] for t in listed.json()] == [title]
