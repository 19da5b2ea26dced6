"""Seller balance and payouts over HTTP (SPEC §12), on both databases: every route's status
codes (401 signed out, 403 for a non-operator on /api/admin, 400 bad input), the balance the
API shows equal to the ledger's sums, and the CSV export parsed back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import assert_error, db_execute

from tests.support.money import complete_paid, recomputed
from ticketing_app.db import dispose_engines
from ticketing_app.services.payouts import CSV_COLUMNS, NOTHING_AVAILABLE

ADMIN_ROUTES = [
    ("post", "/api/admin/payouts/00000000-0000-4000-8000-000000000000/paid"),
    ("get", "/api/admin/payouts.csv"),
]
SELLER_ROUTES = [
    ("get", "/api/balance"),
    ("get", "/api/balance/entries"),
    ("post", "/api/payouts"),
    ("get", "/api/payouts"),
]


@pytest.fixture
def db_url(server) -> str:
    yield server.env["DATABASE_URL"]
    dispose_engines()


def call(client, method: str, path: str):
    if method == "post":
        return client.post(path, json={"reference": "TRF-1"})
    return client.get(path)


def sold(db_url, seller, buyer, price: float, *, hours_ago: float = 0) -> str:
    """`buyer` reserves a new ticket of `seller` over HTTP; it completes `hours_ago`."""
    ticket = seller.post("/api/tickets", json={"title": "Seat", "price": price}).json()
    order = buyer.post("/api/orders", json={"ticketId": ticket["id"]})
    assert order.status_code == 201, order.text
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    complete_paid(db_url, order.json()["id"], at)
    return order.json()["id"]


def operator(db_url, make_user):
    client = make_user("operator")
    db_execute(db_url, "UPDATE users SET is_operator = true WHERE id = :id", id=client.id)
    return client


def test_signed_out_is_401_everywhere(anon) -> None:
    for method, path in SELLER_ROUTES + ADMIN_ROUTES:
        assert_error(call(anon, method, path), 401)


def test_admin_routes_are_403_for_a_seller(seller) -> None:
    for method, path in ADMIN_ROUTES:
        assert_error(call(seller, method, path), 403, "Only operators can do this")


def test_a_new_seller_has_nothing(seller) -> None:
    assert seller.get("/api/balance").json() == {
        "currency": "USD",
        "pending": 0,
        "available": 0,
        "inPayout": 0,
        "paidOut": 0,
    }
    assert seller.get("/api/balance/entries").json() == []
    assert seller.get("/api/payouts").json() == []
    assert_error(seller.post("/api/payouts", json={}), 400, NOTHING_AVAILABLE, None)


def test_bad_bodies_and_paging_are_400(seller) -> None:
    r = seller.post("/api/payouts", content=b"[]", headers={"content-type": "application/json"})
    assert_error(r, 400, "Request body must be a JSON object")
    r = seller.post("/api/payouts", content=b"{", headers={"content-type": "application/json"})
    assert_error(r, 400, "Request body must be valid JSON")
    assert_error(seller.get("/api/balance/entries?limit=0"), 400, field="limit")
    assert_error(seller.get("/api/balance/entries?offset=-1"), 400, field="offset")


def test_sale_to_payout_to_paid_and_csv(db_url, seller, buyer, make_user) -> None:
    sold(db_url, seller, buyer, 20, hours_ago=49)  # no event: available 48 h after the sale
    sold(db_url, seller, make_user(), 7.5)  # still pending
    balance = seller.get("/api/balance").json()
    assert (balance["pending"], balance["available"]) == (27.5, 0)  # no sweep ran yet
    entries = seller.get("/api/balance/entries").json()
    assert [e["kind"] for e in entries] == ["sale", "sale"]

    r = seller.post("/api/payouts", json={})
    assert r.status_code == 201, r.text
    payout = r.json()
    assert (payout["amount"], payout["status"], payout["reference"]) == (20, "requested", None)
    assert seller.get("/api/payouts").json() == [payout]
    balance = seller.get("/api/balance").json()
    assert balance == {
        "currency": "USD",
        "pending": 7.5,
        "available": 0,
        "inPayout": 20,
        "paidOut": 0,
    }
    assert_error(seller.post("/api/payouts", json={}), 400, NOTHING_AVAILABLE)
    assert [e["kind"] for e in seller.get("/api/balance/entries").json()][:3] == [
        "payout",
        "payout",
        "release",
    ]
    sums = recomputed(db_url, seller.id)
    assert {k: v / 100 for k, v in sums.items()} == {
        "pending": balance["pending"],
        "available": balance["available"],
        "payout": balance["inPayout"],
        "paid_out": balance["paidOut"],
    }

    op = operator(db_url, make_user)
    path = f"/api/admin/payouts/{payout['id']}/paid"
    assert_error(op.post(path, json={}), 400, field="reference")
    assert_error(op.post(path, json={"reference": "   "}), 400, field="reference")
    assert_error(op.post(path, content=b"nope"), 400)
    assert_error(op.post("/api/admin/payouts/nope/paid", json={"reference": "x"}), 404)
    r = op.post(path, json={"reference": "=HYPERLINK(1)"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reference"]) == ("paid", "=HYPERLINK(1)")
    assert_error(op.post(path, json={"reference": "again"}), 400)
    assert seller.get("/api/balance").json()["paidOut"] == 20

    r = op.get("/api/admin/payouts.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    mine = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:] if row[1] == seller.id]
    assert len(mine) == 1
    assert mine[0]["payout_id"] == payout["id"]
    assert mine[0]["seller_email"] == seller.email
    assert (mine[0]["amount"], mine[0]["currency"], mine[0]["status"]) == ("20.00", "USD", "paid")
    assert mine[0]["reference"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert mine[0]["requested_at"].endswith("Z") and mine[0]["paid_at"].endswith("Z")


def test_order_json_has_fee_and_total(seller, buyer) -> None:
    ticket = seller.post("/api/tickets", json={"title": "Seat", "price": 19.99}).json()
    order = buyer.post("/api/orders", json={"ticketId": ticket["id"]}).json()
    assert (order["price"], order["fee"], order["total"]) == (19.99, 0, 19.99)  # fees off here
    assert buyer.get(f"/api/orders/{order['id']}").json()["total"] == 19.99


def test_openapi_documents_the_money_routes(anon) -> None:
    paths = anon.get("/api/openapi.json").json()["paths"]
    for (method, path), codes in {
        ("get", "/api/balance"): {"200", "401"},
        ("get", "/api/balance/entries"): {"200", "400", "401"},
        ("post", "/api/payouts"): {"201", "400", "401"},
        ("get", "/api/payouts"): {"200", "401"},
        ("post", "/api/admin/payouts/{payout_id}/paid"): {"200", "400", "401", "403", "404"},
        ("get", "/api/admin/payouts.csv"): {"200", "401", "403"},
    }.items():
        op = paths[path][method]
        assert codes <= set(op["responses"]), (method, path)
        assert {"APIKeyCookie": []} in op["security"], (method, path)
    order = anon.get("/api/openapi.json").json()["components"]["schemas"]["OrderOut"]
    assert {"fee", "total"} <= set(order["required"])
