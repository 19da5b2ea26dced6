"""SPEC §10 over real HTTP: PUT/GET /api/tickets/{id}/file (the access matrix, each cell a
test; bad files refused and nothing stored), the e-ticket PDF read back (pypdf text, the QR
rendered with pypdfium2 and decoded with zxing-cpp) and /api/verify — valid until a refund.
SQLite and PostgreSQL; orders are paid at localstripe."""

from __future__ import annotations

import hashlib
import io
import uuid
from urllib.parse import urlsplit

import httpx
import pypdf
import pypdfium2
import pytest
import zxingcpp

from tests.delivery.delivery_helpers import (
    list_ticket,
    new_event,
    pay,
    refund_completed,
    reserve,
    upload,
)
from tests.delivery.sample_files import HTML, jpeg, oversized_pdf, pdf, png, truncated_png
from ticketing_app.services import files

PRIVATE_HEADERS = {
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
}


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return error


@pytest.fixture
def sale(client) -> dict:
    """A listing with a PDF attached, and a buyer who has reserved it (not paid yet)."""
    seller, buyer = client(), client()
    ticket = list_ticket(seller)
    assert upload(seller, ticket["id"], pdf("Seat B12"), "Seat B12.pdf").status_code == 200
    order = reserve(buyer, ticket["id"])
    return {"seller": seller, "buyer": buyer, "ticket": ticket, "order": order}


def file_of(client: httpx.Client, ticket: dict) -> httpx.Response:
    return client.get(f"/api/tickets/{ticket['id']}/file")


# The access matrix of GET /api/tickets/{id}/file — one test per cell.


def test_signed_out_gets_401(sale, client) -> None:
    error_of(file_of(client(signed_in=False), sale["ticket"]), 401)


def test_another_user_gets_403(sale, client) -> None:
    pay(sale["buyer"], sale["order"]["id"])
    error_of(file_of(client(), sale["ticket"]), 403)


def test_the_buyer_before_paying_gets_403(sale) -> None:
    error_of(file_of(sale["buyer"], sale["ticket"]), 403)


def test_the_buyer_after_paying_gets_the_bytes(sale) -> None:
    pay(sale["buyer"], sale["order"]["id"])
    r = file_of(sale["buyer"], sale["ticket"])
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(pdf("Seat B12")).digest()
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="Seat B12.pdf"')
    assert {k: r.headers[k] for k in PRIVATE_HEADERS} == PRIVATE_HEADERS


def test_the_seller_gets_the_bytes(sale) -> None:
    r = file_of(sale["seller"], sale["ticket"])
    assert (r.status_code, r.content) == (200, pdf("Seat B12"))
    assert {k: r.headers[k] for k in PRIVATE_HEADERS} == PRIVATE_HEADERS


def test_the_buyer_after_a_refund_gets_403(sale, server) -> None:
    charge = pay(sale["buyer"], sale["order"]["id"])
    assert file_of(sale["buyer"], sale["ticket"]).status_code == 200
    refund_completed(server, sale["order"]["id"], charge)
    error_of(file_of(sale["buyer"], sale["ticket"]), 403)
    assert file_of(sale["seller"], sale["ticket"]).status_code == 200


def test_no_file_or_no_ticket_is_404(client) -> None:
    seller = client()
    ticket = list_ticket(seller)
    assert (
        error_of(file_of(seller, ticket), 404)["message"] == "No ticket file has been attached yet"
    )
    error_of(file_of(seller, {"id": str(uuid.uuid4())}), 404)


# Uploads.


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (HTML, "ticket.pdf", 400),
        (b"", "ticket.pdf", 400),
        (oversized_pdf(files.MAX_FILE_BYTES), "ticket.pdf", 413),
        (truncated_png(), "ticket.png", 400),
    ],
    ids=["html-named-pdf", "empty", "5mb+1", "truncated-png"],
)
def test_bad_files_are_refused_and_nothing_is_stored(client, data, name, status) -> None:
    seller = client()
    ticket = list_ticket(seller)
    error = error_of(upload(seller, ticket["id"], data, name), status)
    assert error["field"] == "file"
    assert seller.get(f"/api/tickets/{ticket['id']}").json()["hasFile"] is False
    assert file_of(seller, ticket).status_code == 404


def test_a_file_of_exactly_5_mb_is_accepted(client) -> None:
    seller = client()
    ticket = list_ticket(seller)
    exact = oversized_pdf(files.MAX_FILE_BYTES - 1)
    assert len(exact) == files.MAX_FILE_BYTES
    assert upload(seller, ticket["id"], exact).status_code == 200
    assert file_of(seller, ticket).content == exact


def test_a_chunked_upload_over_5_mb_is_cut_off_at_413(client) -> None:
    """No Content-Length to refuse up front: the stream itself is cut at the limit."""
    seller = client()
    ticket = list_ticket(seller)
    boundary = "delivery-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    body = head + oversized_pdf(files.MAX_FILE_BYTES) + f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    r = seller.put(
        f"/api/tickets/{ticket['id']}/file",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert error_of(r, 413)["field"] == "file"
    assert file_of(seller, ticket).status_code == 404


def test_png_name_with_pdf_bytes_is_stored_and_served_as_pdf(client) -> None:
    seller = client()
    ticket = list_ticket(seller)
    r = upload(seller, ticket["id"], pdf(), "ticket.png")
    assert r.status_code == 200 and r.json()["hasFile"] is True, r.text
    got = file_of(seller, ticket)
    assert got.headers["content-type"] == "application/pdf"
    assert 'filename="ticket.pdf"' in got.headers["content-disposition"]
    assert got.content == pdf()


def test_png_and_jpeg_are_served_with_their_types(client) -> None:
    seller = client()
    for data, kind in ((png(), "image/png"), (jpeg(), "image/jpeg")):
        ticket = list_ticket(seller)
        assert upload(seller, ticket["id"], data, "x").status_code == 200
        assert file_of(seller, ticket).headers["content-type"] == kind


def test_who_may_upload(sale, client) -> None:
    ticket_id = sale["ticket"]["id"]
    error_of(upload(client(signed_in=False), ticket_id, png()), 401)
    error_of(upload(client(), ticket_id, png()), 403)
    error_of(upload(sale["seller"], str(uuid.uuid4()), png()), 404)
    # the seller, while the ticket is reserved: frozen (a file is attached)
    error_of(upload(sale["seller"], ticket_id, png()), 400)
    no_file = sale["seller"].put(f"/api/tickets/{ticket_id}/file", json={"file": "x"})
    assert no_file.status_code == 400


def test_missing_file_field_is_400(client) -> None:
    seller = client()
    ticket = list_ticket(seller)
    r = seller.put(f"/api/tickets/{ticket['id']}/file", files={"other": ("a.pdf", pdf())})
    assert error_of(r, 400)["field"] == "file"


def test_a_seller_who_attached_nothing_may_attach_once_after_the_sale(client) -> None:
    seller, buyer = client(), client()
    ticket = list_ticket(seller)
    order = reserve(buyer, ticket["id"])
    pay(buyer, order["id"])
    assert buyer.get(f"/api/orders/{order['id']}").json()["ticket"]["hasFile"] is False
    assert upload(seller, ticket["id"], png(), "late.png").status_code == 200
    assert buyer.get(f"/api/orders/{order['id']}").json()["ticket"]["hasFile"] is True
    assert file_of(buyer, ticket).content == png()
    error_of(upload(seller, ticket["id"], pdf()), 400)
    assert file_of(buyer, ticket).content == png()


# The e-ticket.


def decode_qr(pdf_bytes: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf_bytes)
    try:
        image = document[0].render(scale=2).to_pil()
    finally:
        document.close()
    return [found.text for found in zxingcpp.read_barcodes(image)]


def test_the_e_ticket_pdf_carries_the_sale_and_a_qr_code_that_verifies(client) -> None:
    seller, buyer = client(), client()
    event = new_event(seller)
    ticket = list_ticket(seller, "Balcony B12", event["id"])
    order = reserve(buyer, ticket["id"])
    assert buyer.get(f"/api/orders/{order['id']}").json()["eTicket"] is None
    error_of(buyer.get(f"/api/orders/{order['id']}/ticket.pdf"), 404)  # not paid yet
    pay(buyer, order["id"])
    e_ticket = buyer.get(f"/api/orders/{order['id']}").json()["eTicket"]
    assert e_ticket["url"] == f"http://tickets.test/verify/{e_ticket['code']}"
    assert len(e_ticket["code"]) >= 22

    r = buyer.get(f"/api/orders/{order['id']}/ticket.pdf", params={"tz": "Europe/Paris"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert {k: r.headers[k] for k in PRIVATE_HEADERS} == PRIVATE_HEADERS
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4, points
    text = reader.pages[0].extract_text()
    for expected in (event["name"], "Balcony B12", "Olympia", order["id"], "42.50", buyer.email):
        assert expected in text
    assert "20:30 (Europe/Paris" in text  # 19:30 UTC in winter
    assert decode_qr(r.content) == [e_ticket["url"]]

    path = urlsplit(e_ticket["url"]).path
    verified = client(signed_in=False).get(f"/api{path}")
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["valid"] is True and body["title"] == "Balcony B12"
    assert body["event"]["name"] == event["name"]
    assert body["holder"] == buyer.email[0] + "***@example.com"


def test_the_code_stops_verifying_after_a_refund(client, server) -> None:
    seller, buyer = client(), client()
    ticket = list_ticket(seller)
    order = reserve(buyer, ticket["id"])
    charge = pay(buyer, order["id"])
    r = buyer.get(f"/api/orders/{order['id']}/ticket.pdf")
    [url] = decode_qr(r.content)
    anyone = client(signed_in=False)
    assert anyone.get(f"/api{urlsplit(url).path}").status_code == 200
    refund_completed(server, order["id"], charge)
    error_of(anyone.get(f"/api{urlsplit(url).path}"), 404)
    error_of(buyer.get(f"/api/orders/{order['id']}/ticket.pdf"), 404)
    assert buyer.get(f"/api/orders/{order['id']}").json()["eTicket"] is None


def test_who_may_download_the_e_ticket(client) -> None:
    seller, buyer = client(), client()
    ticket = list_ticket(seller)
    order = reserve(buyer, ticket["id"])
    pay(buyer, order["id"])
    path = f"/api/orders/{order['id']}/ticket.pdf"
    error_of(client(signed_in=False).get(path), 401)
    error_of(client().get(path), 403)
    error_of(seller.get(path), 403)
    error_of(buyer.get(f"/api/orders/{uuid.uuid4()}/ticket.pdf"), 404)
    assert error_of(buyer.get(path, params={"tz": "Mars/Olympus"}), 400)["field"] == "tz"


def test_unknown_codes_are_404(client) -> None:
    anyone = client(signed_in=False)
    for code in ("nope", "A" * 24, "x" * 100):
        error_of(anyone.get(f"/api/verify/{code}"), 404)


def test_openapi_documents_the_delivery_routes(client) -> None:
    paths = client(signed_in=False).get("/api/openapi.json").json()["paths"]
    put = paths["/api/tickets/{ticket_id}/file"]["put"]
    assert set(put["responses"]) >= {"200", "400", "401", "403", "404", "413"}
    multipart = put["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert multipart["properties"]["file"]["format"] == "binary"
    get = paths["/api/tickets/{ticket_id}/file"]["get"]
    assert set(get["responses"]["200"]["content"]) == {"application/pdf", "image/png", "image/jpeg"}
    assert set(get["responses"]) >= {"200", "401", "403", "404"}
    pdf_route = paths["/api/orders/{order_id}/ticket.pdf"]["get"]
    assert "application/pdf" in pdf_route["responses"]["200"]["content"]
    verify = paths["/api/verify/{code}"]["get"]
    assert set(verify["responses"]) >= {"200", "404"}
