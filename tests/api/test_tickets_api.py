"""Listings over HTTP: browse/search/paginate for anyone; create/edit/cancel for the seller."""

from __future__ import annotations

import uuid

import pytest
from api_helpers import assert_error, db_execute

TICKET_KEYS = {
    "id",
    "title",
    "price",
    "userId",
    "orderId",
    "status",
    "version",
    "createdAt",
    "updatedAt",
    "eventId",  # SPEC §9
    "faceValue",
    "hasFile",
    "withdrawnReason",
}


def new_ticket(client, title: str = "Concert", price: object = 20) -> dict:
    r = client.post("/api/tickets", json={"title": title, "price": price})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_ticket_returns_spec_json(seller) -> None:
    t = new_ticket(seller, "  Radiohead   live ", "19.99")
    assert set(t) == TICKET_KEYS
    assert t["title"] == "Radiohead live"  # trimmed, inner runs collapsed
    assert t["price"] == 19.99 and t["userId"] == seller.id and t["orderId"] is None
    assert t["status"] == "available" and t["version"] == 1
    assert t["createdAt"].endswith("Z") and t["updatedAt"].endswith("Z")
    assert new_ticket(seller, "Whole", 20)["price"] == 20  # integral prices stay integers


def test_create_ticket_requires_sign_in(anon) -> None:
    assert_error(anon.post("/api/tickets", json={"title": "x", "price": 1}), 401, field=None)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"title": "", "price": 10}, "title", "Title is required"),
        ({"title": "   ", "price": 10}, "title", "Title is required"),
        ({"price": 10}, "title", "Title is required"),
        ({"title": 12, "price": 10}, "title", "Title is required"),
        ({"title": "x" * 121, "price": 10}, "title", "Title must be at most 120 characters"),
        ({"title": "x" * 60_000, "price": 10}, "title", "Title must be at most 120 characters"),
        ({"title": "Gig", "price": 0}, "price", "Price must be greater than 0"),
        ({"title": "Gig", "price": -5}, "price", "Price must be greater than 0"),
        ({"title": "Gig", "price": 1_000_000.01}, "price", "Price must be at most 1,000,000"),
        ({"title": "Gig", "price": 1e308}, "price", "Price must be at most 1,000,000"),
        ({"title": "Gig", "price": 10.001}, "price", "Price must have at most 2 decimal places"),
        ({"title": "Gig", "price": "abc"}, "price", "Price must be a number"),
        ({"title": "Gig", "price": True}, "price", "Price must be a number"),
        ({"title": "Gig", "price": None}, "price", "Price must be a number"),
        ({"title": "Gig", "price": [10]}, "price", "Price must be a number"),
        ({"title": "Gig", "price": {"amount": 10}}, "price", "Price must be a number"),
        ({"title": "Gig"}, "price", "Price must be a number"),
    ],
)
def test_create_ticket_rejects_bad_input(seller, body, field, message) -> None:
    assert_error(seller.post("/api/tickets", json=body), 400, message, field)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_prices_rejected(seller, raw) -> None:
    r = seller.post(
        "/api/tickets",
        content=f'{{"title": "Gig", "price": {raw}}}',
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400, field="price")


def test_price_at_the_maximum_is_accepted(seller) -> None:
    assert new_ticket(seller, "Final", 1_000_000)["price"] == 1_000_000


def test_get_ticket_for_anyone_and_404s(anon, seller) -> None:
    t = new_ticket(seller)
    r = anon.get(f"/api/tickets/{t['id']}")
    assert r.status_code == 200 and r.json() == t
    assert_error(anon.get(f"/api/tickets/{uuid.uuid4()}"), 404, "Ticket not found")
    for bad in ("not-a-uuid", "1", "%00", "' OR 1=1 --", "x" * 5000):
        assert_error(anon.get(f"/api/tickets/{bad}"), 404)


def test_list_defaults_to_available_newest_first(anon, seller, buyer) -> None:
    tag = uuid.uuid4().hex[:8]
    first = new_ticket(seller, f"{tag} first", 10)
    second = new_ticket(seller, f"{tag} second", 30)
    reserved = new_ticket(seller, f"{tag} reserved", 20)
    assert buyer.post("/api/orders", json={"ticketId": reserved["id"]}).status_code == 201
    r = anon.get("/api/tickets", params={"q": tag})
    assert r.status_code == 200
    assert [t["id"] for t in r.json()] == [second["id"], first["id"]]
    assert r.headers["x-total-count"] == "2"
    assert all(set(t) == TICKET_KEYS for t in r.json())


def test_list_status_search_sort_and_paging(anon, seller, buyer) -> None:
    tag = uuid.uuid4().hex[:8]
    cheap = new_ticket(seller, f"Jazz {tag} cheap", 5)
    mid = new_ticket(seller, f"JAZZ {tag} mid", 50.5)
    dear = new_ticket(seller, f"jazz {tag} dear", 500)
    held = new_ticket(seller, f"jazz {tag} held", 7)
    assert buyer.post("/api/orders", json={"ticketId": held["id"]}).status_code == 201

    def ids(**params) -> list[str]:
        r = anon.get("/api/tickets", params={"q": f"jazz {tag}", **params})
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()]

    assert ids(sort="price_asc") == [cheap["id"], mid["id"], dear["id"]]
    assert ids(sort="price_desc") == [dear["id"], mid["id"], cheap["id"]]
    assert ids(sort="price_asc", limit=2) == [cheap["id"], mid["id"]]
    assert ids(sort="price_asc", limit=2, offset=2) == [dear["id"]]
    assert ids(status="reserved") == [held["id"]]
    assert ids(status="sold") == []
    assert set(ids(status="all")) == {cheap["id"], mid["id"], dear["id"], held["id"]}
    assert ids(q="no such title " + tag) == []
    # LIKE wildcards are literal characters, not patterns.
    assert anon.get("/api/tickets", params={"q": "%_%" + tag}).json() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"sort": "cheapest"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"offset": 10**30}, "offset"),
    ],
)
def test_list_rejects_bad_query_values(anon, params, field) -> None:
    assert_error(anon.get("/api/tickets", params=params), 400, field=field)


def test_list_survives_hostile_search_text(anon) -> None:
    for q in ("\x00", "a" * 10_000, "'; DROP TABLE tickets; --", "\\", "☃" * 50):
        r = anon.get("/api/tickets", params={"q": q})
        assert r.status_code == 200, (q[:20], r.text)


def test_seller_edits_ticket(seller) -> None:
    t = new_ticket(seller)
    r = seller.put(f"/api/tickets/{t['id']}", json={"title": "New title", "price": 42.5})
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "New title" and body["price"] == 42.5
    assert body["version"] == t["version"] + 1 and body["updatedAt"] >= t["updatedAt"]
    assert seller.get(f"/api/tickets/{t['id']}").json() == body


def test_edit_status_codes(anon, seller, buyer, server) -> None:
    t = new_ticket(seller)
    path = f"/api/tickets/{t['id']}"
    good = {"title": "Edited", "price": 25}
    assert_error(anon.put(path, json=good), 401)
    assert_error(buyer.put(path, json=good), 403, "Only the seller can change this ticket")
    assert_error(seller.put(f"/api/tickets/{uuid.uuid4()}", json=good), 404, "Ticket not found")
    assert_error(seller.put("/api/tickets/garbage", json=good), 404)
    assert_error(seller.put(path, json={"title": "Edited", "price": -1}), 400, field="price")
    assert_error(seller.put(path, json={"title": "", "price": 3}), 400, field="title")
    assert buyer.post("/api/orders", json={"ticketId": t["id"]}).status_code == 201
    assert_error(seller.put(path, json=good), 400, "Cannot edit a reserved ticket")
    sold = new_ticket(seller)
    db_execute(server.db_url, "UPDATE tickets SET status = 'sold' WHERE id = :id", id=sold["id"])
    r = seller.put(f"/api/tickets/{sold['id']}", json=good)
    assert_error(r, 400, "Cannot edit a sold ticket")
    assert seller.get(path).json()["title"] == t["title"]  # nothing changed


# Bodies that are wrong in every way the API can tell: bad fields, not JSON, too large.
BAD_EDIT_BODIES = [
    ({"json": {"title": "", "price": -1}}, 400),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ({"content": b"[1, 2]", "headers": {"content-type": "application/json"}}, 400),
    # Answered without reading the body: a fresh connection each (granian may close it after).
    ({"json": {"title": "x" * 70_000, "price": 1}, "headers": {"connection": "close"}}, 413),
]


@pytest.mark.parametrize(("request_kwargs", "own_status"), BAD_EDIT_BODIES)
def test_edit_errors_come_in_order_401_404_403_then_400(
    anon, seller, buyer, request_kwargs, own_status
) -> None:
    """A bad body never tells a stranger more than "not yours" or "no such ticket"."""
    t = new_ticket(seller)
    path = f"/api/tickets/{t['id']}"
    assert_error(anon.put(path, **request_kwargs), 401, field=None)
    assert_error(seller.put(f"/api/tickets/{uuid.uuid4()}", **request_kwargs), 404)
    assert_error(seller.put("/api/tickets/garbage", **request_kwargs), 404, "Ticket not found")
    r = buyer.put(path, **request_kwargs)
    assert_error(r, 403, "Only the seller can change this ticket", None)
    assert_error(seller.put(path, **request_kwargs), own_status)  # the seller hears what's wrong
    assert seller.get(path).json() == t  # nothing changed


def test_edit_field_errors_still_reach_the_seller(seller, buyer) -> None:
    t = new_ticket(seller)
    path = f"/api/tickets/{t['id']}"
    assert_error(
        seller.put(path, json={"title": "", "price": 3}), 400, "Title is required", "title"
    )
    assert_error(buyer.put(path, json={"title": "", "price": 3}), 403, field=None)
    assert buyer.post("/api/orders", json={"ticketId": t["id"]}).status_code == 201
    # Reserved: bad fields are still reported as such to the seller (checked before the status).
    assert_error(seller.put(path, json={"title": "ok", "price": "x"}), 400, field="price")


def test_create_signed_out_with_a_bad_body_is_401(anon) -> None:
    for content in (b"{not json", b"", b"[]"):
        r = anon.post("/api/tickets", content=content, headers={"content-type": "application/json"})
        assert_error(r, 401, "You must be signed in", None)


def test_seller_cancels_listing(anon, seller, buyer) -> None:
    t = new_ticket(seller)
    path = f"/api/tickets/{t['id']}"
    assert_error(anon.delete(path), 401)
    assert_error(buyer.delete(path), 403)
    assert_error(seller.delete(f"/api/tickets/{uuid.uuid4()}"), 404)
    r = seller.delete(path)
    assert r.status_code == 204 and r.content == b""
    assert anon.get(path).json()["status"] == "cancelled"
    assert t["id"] not in [x["id"] for x in anon.get("/api/tickets").json()]
    assert_error(seller.delete(path), 400, "Cannot cancel a cancelled ticket")
    assert_error(buyer.post("/api/orders", json={"ticketId": t["id"]}), 400)


def test_cannot_cancel_reserved_listing(seller, buyer) -> None:
    t = new_ticket(seller)
    assert buyer.post("/api/orders", json={"ticketId": t["id"]}).status_code == 201
    assert_error(seller.delete(f"/api/tickets/{t['id']}"), 400, "Cannot cancel a reserved ticket")
