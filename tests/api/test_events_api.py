"""Events over HTTP (SPEC §9): every route and status code, and tickets that name an event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import assert_error, db_execute

EVENT_KEYS = {
    "id",
    "name",
    "venue",
    "city",
    "startsAt",
    "status",
    "ticketsAvailable",
    "lowestPrice",
}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def iso_in(**delta: float) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(**delta)
    return moment.isoformat().replace("+00:00", "Z")


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def new_event(client, name: str | None = None, **fields) -> dict:
    body = {
        "name": name or unique("Show"),
        "venue": "Olympia",
        "city": "Paris",
        "startsAt": iso_in(days=10),
        **fields,
    }
    r = client.post("/api/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def list_for(client, event_id: str, price, face_value=None) -> dict:
    body = {"title": "Seat", "price": price, "eventId": event_id}
    if face_value is not None:
        body["faceValue"] = face_value
    r = client.post("/api/tickets", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_returns_201_then_200_for_the_same_event(seller, buyer) -> None:
    name = unique("Radiohead")
    starts = iso_in(days=20)
    created = new_event(seller, name, startsAt=starts)
    assert set(created) == EVENT_KEYS
    assert created["name"] == name and created["status"] == "scheduled"
    assert created["startsAt"] == starts.replace("Z", ".000Z")
    assert (created["ticketsAvailable"], created["lowestPrice"]) == (0, None)
    list_for(seller, created["id"], 45)
    again = buyer.post(
        "/api/events",
        json={"name": f"  {name.upper()} ", "venue": "OLYMPIA", "city": "Lyon", "startsAt": starts},
    )
    assert again.status_code == 200, again.text
    assert again.json() == {**created, "ticketsAvailable": 1, "lowestPrice": 45}


def test_create_needs_sign_in(anon) -> None:
    r = anon.post(
        "/api/events", json={"name": "X", "venue": "Y", "city": "Z", "startsAt": iso_in(days=1)}
    )
    assert_error(r, 401, "You must be signed in")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "Name is required"),
        ({"venue": "v" * 121}, "venue", "Venue must be at most 120 characters"),
        ({"city": None}, "city", "City is required"),
        ({"startsAt": "tomorrow"}, "startsAt", None),
        ({"startsAt": "2030-01-01T20:00:00"}, "startsAt", None),
        ({"startsAt": "2020-01-01T20:00:00Z"}, "startsAt", "Starts at must be in the future"),
        ({"startsAt": "2099-01-01T20:00:00Z"}, "startsAt", "Starts at must be at most two years ahead"),  # noqa: E501
    ],
)  # fmt: skip
def test_create_refuses_bad_input(seller, change, field, message) -> None:
    body = {"name": "Gig", "venue": "Hall", "city": "Town", "startsAt": iso_in(days=3), **change}
    r = seller.post("/api/events", json=body)
    assert_error(r, 400, message, field)


def test_create_refuses_a_body_that_is_not_json(seller) -> None:
    r = seller.post("/api/events", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert_error(r, 400, "Request body must be a JSON object")
    r = seller.post("/api/events", content=b"x" * 70_000)
    assert_error(r, 413)


def test_list_upcoming_soonest_first_with_search_and_paging(seller) -> None:
    tag = uuid.uuid4().hex[:8]
    late = new_event(seller, f"Late {tag}", startsAt=iso_in(days=30), city="Berlin")
    soon = new_event(seller, f"Soon {tag}", startsAt=iso_in(days=2), city="Berlin")
    mid = new_event(seller, f"Mid {tag}", startsAt=iso_in(days=5), venue=f"Hall {tag}")
    list_for(seller, soon["id"], 30)
    list_for(seller, soon["id"], "19.99")
    r = seller.get("/api/events", params={"q": tag.upper()})
    assert r.status_code == 200
    assert [e["id"] for e in r.json()] == [soon["id"], mid["id"], late["id"]]
    assert r.headers["X-Total-Count"] == "3"
    first = r.json()[0]
    assert (first["ticketsAvailable"], first["lowestPrice"]) == (2, 19.99)
    paged = seller.get("/api/events", params={"q": tag, "limit": 1, "offset": 1})
    assert [e["id"] for e in paged.json()] == [mid["id"]]
    assert paged.headers["X-Total-Count"] == "3"
    berlin = seller.get("/api/events", params={"q": tag, "city": "berlin"}).json()
    assert [e["id"] for e in berlin] == [soon["id"], late["id"]]
    window = seller.get(
        "/api/events", params={"q": tag, "from": iso_in(days=3), "to": iso_in(days=29)}
    ).json()
    assert [e["id"] for e in window] == [mid["id"]]


def test_started_events_are_not_listed_but_still_readable(seller, server) -> None:
    event = new_event(seller, unique("Started"))
    db_execute(
        server.db_url,
        "UPDATE events SET starts_at = :t WHERE id = :id",
        t=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1),
        id=event["id"],
    )
    listed = seller.get("/api/events", params={"q": event["name"]}).json()
    assert listed == []
    assert seller.get(f"/api/events/{event['id']}").status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"limit": "ten"},
        {"from": "someday"},
        {"to": "2030-01-01T00:00:00"},
    ],
)
def test_list_refuses_bad_parameters(anon, params) -> None:
    assert_error(anon.get("/api/events", params=params), 400)


def test_get_one_event(anon, seller) -> None:
    event = new_event(seller)
    list_for(seller, event["id"], 80, face_value=70)
    r = anon.get(f"/api/events/{event['id']}")
    assert r.status_code == 200
    assert r.json() == {**event, "ticketsAvailable": 1, "lowestPrice": 80}


@pytest.mark.parametrize("bad", [UNKNOWN, "nope", "1" * 300])
def test_unknown_event_is_404(anon, bad) -> None:
    assert_error(anon.get(f"/api/events/{bad}"), 404, "Event not found")
    assert_error(anon.get(f"/api/events/{bad}/tickets"), 404, "Event not found")


def test_event_tickets_cheapest_first_available_only(anon, seller, buyer) -> None:
    event = new_event(seller)
    prices = [60, 25.5, 90, 40]
    listed = {p: list_for(seller, event["id"], p) for p in prices}
    r = buyer.post("/api/orders", json={"ticketId": listed[25.5]["id"]})
    assert r.status_code == 201
    r = anon.get(f"/api/events/{event['id']}/tickets")
    assert r.status_code == 200
    body = r.json()
    assert [t["price"] for t in body] == [40, 60, 90]
    assert all(t["eventId"] == event["id"] and t["status"] == "available" for t in body)
    page = anon.get(f"/api/events/{event['id']}/tickets", params={"limit": 1, "offset": 1})
    assert [t["price"] for t in page.json()] == [60]
    assert_error(anon.get(f"/api/events/{event['id']}/tickets", params={"limit": 0}), 400)


def test_ticket_json_carries_event_face_value_and_file(seller) -> None:
    event = new_event(seller)
    ticket = list_for(seller, event["id"], 110, face_value="99.99")
    assert (ticket["eventId"], ticket["faceValue"], ticket["hasFile"]) == (
        event["id"],
        99.99,
        False,
    )
    plain = seller.post("/api/tickets", json={"title": "Plain", "price": 5}).json()
    assert (plain["eventId"], plain["faceValue"], plain["hasFile"]) == (None, None, False)


def test_ticket_with_unknown_or_started_event_is_400(seller, server) -> None:
    for bad in (UNKNOWN, "nope"):
        r = seller.post("/api/tickets", json={"title": "T", "price": 5, "eventId": bad})
        assert_error(r, 400, "No such event", "eventId")
    event = new_event(seller)
    db_execute(
        server.db_url,
        "UPDATE events SET starts_at = :t WHERE id = :id",
        t=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1),
        id=event["id"],
    )
    r = seller.post("/api/tickets", json={"title": "T", "price": 5, "eventId": event["id"]})
    assert_error(r, 400, "This event has already started", "eventId")
    cancelled = new_event(seller)
    db_execute(
        server.db_url, "UPDATE events SET status = 'cancelled' WHERE id = :id", id=cancelled["id"]
    )
    r = seller.post("/api/tickets", json={"title": "T", "price": 5, "eventId": cancelled["id"]})
    assert_error(r, 400, "This event was cancelled", "eventId")


def test_price_cap_over_http(seller) -> None:
    event = new_event(seller)
    assert list_for(seller, event["id"], 120, face_value=100)["price"] == 120
    r = seller.post(
        "/api/tickets",
        json={"title": "T", "price": 120.01, "faceValue": 100, "eventId": event["id"]},
    )
    assert_error(r, 400, "Price must be at most 120.00 (120% of the face value 100.00)", "price")
    r = seller.post("/api/tickets", json={"title": "T", "price": 5, "faceValue": "free"})
    assert_error(r, 400, "Face value must be a number", "faceValue")


def test_put_keeps_event_unless_the_body_names_it(seller) -> None:
    event = new_event(seller)
    ticket = list_for(seller, event["id"], 100, face_value=100)
    r = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "Row A", "price": 110})
    assert r.status_code == 200 and r.json()["eventId"] == event["id"]
    assert r.json()["faceValue"] == 100
    r = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "Row A", "price": 130})
    assert_error(r, 400, "Price must be at most 120.00 (120% of the face value 100.00)", "price")
    r = seller.put(
        f"/api/tickets/{ticket['id']}",
        json={"title": "Row A", "price": 130, "faceValue": None, "eventId": None},
    )
    assert r.status_code == 200
    assert (r.json()["eventId"], r.json()["faceValue"], r.json()["price"]) == (None, None, 130)
