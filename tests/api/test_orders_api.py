"""Reservations over HTTP: reserve, list, read and cancel orders; only the buyer sees theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from api_helpers import PASSWORD, assert_error, db_execute, unique_email

from tests.db_helpers import migrate
from tests.support import spawn_server, wait_until
from ticketing_app.models import utcnow

ORDER_KEYS = {
    "id", "userId", "status", "price", "fee", "total", "expiresAt", "createdAt", "ticket", "eTicket"
}  # fmt: skip


def new_ticket(client, price: object = 20) -> dict:
    r = client.post("/api/tickets", json={"title": f"Show {uuid.uuid4().hex[:6]}", "price": price})
    assert r.status_code == 201, r.text
    return r.json()


def place_order(client, ticket_id: object) -> httpx.Response:
    return client.post("/api/orders", json={"ticketId": ticket_id})


def reserve(client, ticket_id: str) -> dict:
    r = place_order(client, ticket_id)
    assert r.status_code == 201, r.text
    return r.json()


def test_reserve_returns_order_and_locks_ticket(seller, buyer, anon) -> None:
    t = new_ticket(seller, 12.5)
    order = reserve(buyer, t["id"])
    assert set(order) == ORDER_KEYS
    assert order["userId"] == buyer.id and order["status"] == "created" and order["price"] == 12.5
    assert order["ticket"] == {"id": t["id"], "title": t["title"], "price": 12.5, "hasFile": False}
    assert order["eTicket"] is None  # until paid (tests/delivery)
    assert order["expiresAt"].endswith("Z") and order["expiresAt"] > order["createdAt"]
    ticket = anon.get(f"/api/tickets/{t['id']}").json()
    assert ticket["status"] == "reserved" and ticket["orderId"] == order["id"]
    assert ticket["version"] == t["version"] + 1


def test_reserve_status_codes(anon, seller, buyer, make_user, server) -> None:
    t = new_ticket(seller)
    assert_error(place_order(anon, t["id"]), 401)
    assert_error(place_order(buyer, str(uuid.uuid4())), 404, "Ticket not found")
    assert_error(place_order(buyer, "nope"), 404)
    assert_error(buyer.post("/api/orders", json={}), 400, "Ticket id is required", "ticketId")
    assert_error(place_order(buyer, 7), 400, field="ticketId")
    assert_error(
        place_order(seller, t["id"]),
        400,
        "You cannot buy your own ticket",
    )
    reserve(buyer, t["id"])
    other = make_user("other")
    assert_error(place_order(other, t["id"]), 400, "Ticket is already reserved")
    assert_error(place_order(buyer, t["id"]), 400, "Ticket is already reserved")
    sold = new_ticket(seller)
    db_execute(server.db_url, "UPDATE tickets SET status = 'sold' WHERE id = :id", id=sold["id"])
    assert_error(
        place_order(other, sold["id"]),
        400,
        "Ticket has already been sold",
    )
    gone = new_ticket(seller)
    assert seller.delete(f"/api/tickets/{gone['id']}").status_code == 204
    assert_error(
        place_order(other, gone["id"]),
        400,
        "Ticket is no longer for sale",
    )


def test_list_orders_is_mine_newest_first(seller, buyer, make_user, anon) -> None:
    first = reserve(buyer, new_ticket(seller)["id"])
    second = reserve(buyer, new_ticket(seller)["id"])
    someone = make_user("someone")
    reserve(someone, new_ticket(seller)["id"])
    r = buyer.get("/api/orders")
    assert r.status_code == 200
    assert [o["id"] for o in r.json()] == [second["id"], first["id"]]
    assert all(set(o) == ORDER_KEYS for o in r.json())
    assert seller.get("/api/orders").json() == []
    assert_error(anon.get("/api/orders"), 401)


def test_reserve_signed_out_with_a_bad_body_is_401(anon, buyer) -> None:
    """Not signed in comes first: malformed JSON from a signed-out caller is a 401."""
    json_header = {"content-type": "application/json"}
    for content in (b"{not json", b"", b"[1]", b'{"ticketId": 7}'):
        r = anon.post("/api/orders", content=content, headers=json_header)
        assert_error(r, 401, "You must be signed in", None)
    # Signed in, the same bodies get their own answers.
    r = buyer.post("/api/orders", content=b"{not json", headers=json_header)
    assert_error(r, 400, "Request body must be valid JSON", None)
    # Too large: answered without reading it, on a connection of its own each.
    big = b'{"ticketId": "' + b"x" * 70_000 + b'"}'
    big_header = {**json_header, "connection": "close"}
    assert_error(anon.post("/api/orders", content=big, headers=big_header), 401)
    assert_error(buyer.post("/api/orders", content=big, headers=big_header), 413)


def test_list_orders_limit_and_offset(seller, buyer, anon) -> None:
    made = [reserve(buyer, new_ticket(seller)["id"])["id"] for _ in range(3)]
    assert buyer.delete(f"/api/orders/{made[0]}").status_code == 204  # 3 holds at a time
    made.append(reserve(buyer, new_ticket(seller)["id"])["id"])
    newest_first = made[::-1]

    def ids(**params) -> list[str]:
        r = buyer.get("/api/orders", params=params)
        assert r.status_code == 200, r.text
        return [o["id"] for o in r.json()]

    assert ids() == newest_first
    assert ids(limit=2) == newest_first[:2]
    assert ids(limit=2, offset=2) == newest_first[2:]
    assert ids(offset=1) == newest_first[1:]
    assert ids(offset=4) == []
    assert ids(limit=200) == newest_first
    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"offset": 10**30}, "offset"),
    ]:
        assert_error(buyer.get("/api/orders", params=params), 400, field=field)
        assert_error(anon.get("/api/orders", params=params), 401)  # 401 before the 400


def test_list_orders_default_is_not_a_50_page(make_user, buyer) -> None:
    """Clients that never paged still get every order (up to 200), not the tickets' 50."""
    sellers = [make_user("seller") for _ in range(3)]  # 30 new listings an hour each at most
    for i in range(51):  # each given back at once: at most 3 holds at a time per buyer
        order = reserve(buyer, new_ticket(sellers[i % 3])["id"])
        assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204
    r = buyer.get("/api/orders")
    assert r.status_code == 200 and len(r.json()) == 51


def test_get_order_owner_only(seller, buyer, anon) -> None:
    order = reserve(buyer, new_ticket(seller)["id"])
    path = f"/api/orders/{order['id']}"
    r = buyer.get(path)
    assert r.status_code == 200 and r.json() == order
    assert_error(seller.get(path), 403, "This order belongs to someone else")
    assert_error(anon.get(path), 401)
    assert_error(buyer.get(f"/api/orders/{uuid.uuid4()}"), 404, "Order not found")
    assert_error(buyer.get("/api/orders/12345"), 404, "Order not found")


def test_cancel_order_releases_ticket(seller, buyer, anon, make_user) -> None:
    t = new_ticket(seller)
    order = reserve(buyer, t["id"])
    path = f"/api/orders/{order['id']}"
    assert_error(anon.delete(path), 401)
    assert_error(seller.delete(path), 403)
    assert_error(buyer.delete(f"/api/orders/{uuid.uuid4()}"), 404)
    r = buyer.delete(path)
    assert r.status_code == 204 and r.content == b""
    assert buyer.get(path).json()["status"] == "cancelled"
    ticket = anon.get(f"/api/tickets/{t['id']}").json()
    assert ticket["status"] == "available" and ticket["orderId"] is None
    assert buyer.delete(path).status_code == 204  # again: a no-op
    assert buyer.get(path).json()["status"] == "cancelled"
    # Someone else can buy it now.
    reserve(make_user("next"), t["id"])
    assert buyer.delete(path).status_code == 204  # still a no-op: never unlocks another's hold
    assert anon.get(f"/api/tickets/{t['id']}").json()["status"] == "reserved"


def test_cannot_cancel_completed_order(seller, buyer, server) -> None:
    order = reserve(buyer, new_ticket(seller)["id"])
    db_execute(
        server.db_url, "UPDATE orders SET status = 'complete' WHERE id = :id", id=order["id"]
    )
    assert_error(buyer.delete(f"/api/orders/{order['id']}"), 400, "Cannot cancel a completed order")


@pytest.fixture(scope="module")
def short_lock_server(tmp_path_factory) -> Iterator:
    """A second backend whose reservations last 1 second (TICKETING_LOCK_SECONDS)."""
    directory = tmp_path_factory.mktemp("api-short-lock")
    db_url = f"sqlite:///{directory / 'api.db'}"
    migrate(db_url)
    srv = spawn_server(
        "api",
        {"DATABASE_URL": db_url, "TICKETING_LOCK_SECONDS": "1"},
        log_path=directory / "server.log",
    )
    yield srv
    srv.remove()


def test_past_due_hold_expires_when_someone_else_reserves(short_lock_server) -> None:
    clients = []
    for _ in range(3):
        c = httpx.Client(base_url=short_lock_server.base_url, timeout=30)
        assert (
            c.post(
                "/api/users/signup", json={"email": unique_email(), "password": PASSWORD}
            ).status_code
            == 201
        )
        clients.append(c)
    seller, first, second = clients
    t = seller.post("/api/tickets", json={"title": "Short hold", "price": 3}).json()
    held = place_order(first, t["id"]).json()
    assert_error(place_order(second, t["id"]), 400, "Ticket is already reserved")
    # Past due on the server's clock (ours: same machine); expiresAt is rounded to the ms.
    due = datetime.fromisoformat(held["expiresAt"].replace("Z", "+00:00"))
    wait_until(lambda: utcnow() > due + timedelta(milliseconds=1), 5, "the hold past due")
    won = place_order(second, t["id"])
    assert won.status_code == 201, won.text
    assert first.get(f"/api/orders/{held['id']}").json()["status"] == "expired"
    assert first.delete(f"/api/orders/{held['id']}").status_code == 204  # expired: a no-op
    ticket = first.get(f"/api/tickets/{t['id']}").json()
    assert ticket["status"] == "reserved" and ticket["orderId"] == won.json()["id"]
    for c in clients:
        c.close()


def test_expected_price_that_changed_reserves_nothing(seller, buyer, anon) -> None:
    t = new_ticket(seller, 10)
    r = seller.put(f"/api/tickets/{t['id']}", json={"title": t["title"], "price": 99})
    assert r.status_code == 200, r.text
    refused = buyer.post("/api/orders", json={"ticketId": t["id"], "expectedPrice": 10})
    assert_error(refused, 400, field="expectedPrice")
    assert "now 99.00" in refused.json()["errors"][0]["message"]
    assert anon.get(f"/api/tickets/{t['id']}").json()["status"] == "available"
    assert buyer.get("/api/orders").json() == []
    bad = buyer.post("/api/orders", json={"ticketId": t["id"], "expectedPrice": "ten"})
    assert_error(bad, 400, "Expected price must be a number", "expectedPrice")
    ok = buyer.post("/api/orders", json={"ticketId": t["id"], "expectedPrice": 99})
    assert ok.status_code == 201 and ok.json()["price"] == 99


def test_rereserving_after_cancel_waits_for_the_cooldown(seller, buyer, make_user) -> None:
    t = new_ticket(seller)
    order = reserve(buyer, t["id"])
    assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204
    again = place_order(buyer, t["id"])
    assert_error(again, 400)
    assert "again in" in again.json()["errors"][0]["message"]
    assert place_order(make_user(), t["id"]).status_code == 201  # anyone else may
