"""The public reads over HTTP (issue 19): answered from the server's read model, fresh after
every change made through the API, with ETag / 304 and a Cache-Control a CDN can respect;
personal answers say private."""

from __future__ import annotations

import pytest
from test_events_api import list_for, new_event

PUBLIC = "public, max-age=0, no-cache"


def revalidate(client, path: str, **params) -> tuple[dict | list, str]:
    """GET `path`; then the same with If-None-Match: 304, no body. Returns (JSON, ETag)."""
    first = client.get(path, params=params)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == PUBLIC
    again = client.get(path, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    weak_list = client.get(path, params=params, headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak_list.status_code == 304
    return first.json(), etag


def changed(client, path: str, etag: str, **params) -> dict | list:
    """The next read after a change: a new body and ETag (a 200 for the old tag)."""
    r = client.get(path, params=params, headers={"If-None-Match": etag})
    assert r.status_code == 200, "stale 304 after a change"
    assert r.headers["etag"] != etag
    return r.json()


def test_market_first_page_is_fresh_after_each_change_and_revalidates(anon, seller, buyer) -> None:
    path = "/api/tickets"
    page, etag = revalidate(anon, path, limit=12)
    total = int(anon.get(path, params={"limit": 12}).headers["x-total-count"])
    ticket = seller.post("/api/tickets", json={"title": "Fresh", "price": 12}).json()
    page = changed(anon, path, etag, limit=12)
    assert page[0]["id"] == ticket["id"]
    r = anon.get(path, params={"limit": 12})
    assert int(r.headers["x-total-count"]) == total + 1
    etag = r.headers["etag"]
    by_id, ticket_etag = revalidate(anon, f"/api/tickets/{ticket['id']}")
    assert by_id["price"] == 12

    assert seller.put(
        f"/api/tickets/{ticket['id']}", json={"title": "Fresh", "price": 9}
    ).is_success
    assert changed(anon, path, etag, limit=12)[0]["price"] == 9
    assert changed(anon, f"/api/tickets/{ticket['id']}", ticket_etag)["price"] == 9

    etag = anon.get(path, params={"limit": 12}).headers["etag"]
    order = buyer.post("/api/orders", json={"ticketId": ticket["id"]}).json()
    assert ticket["id"] not in [t["id"] for t in changed(anon, path, etag, limit=12)]
    assert anon.get(f"/api/tickets/{ticket['id']}").json()["status"] == "reserved"

    etag = anon.get(path, params={"limit": 12}).headers["etag"]
    assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204
    assert changed(anon, path, etag, limit=12)[0]["id"] == ticket["id"]
    assert seller.delete(f"/api/tickets/{ticket['id']}").status_code == 204
    assert ticket["id"] not in [t["id"] for t in anon.get(path, params={"limit": 12}).json()]
    assert anon.get(f"/api/tickets/{ticket['id']}").json()["status"] == "cancelled"


def test_event_reads_are_fresh_and_revalidate(anon, seller, buyer) -> None:
    event = new_event(seller)
    base = f"/api/events/{event['id']}"
    one, event_etag = revalidate(anon, base)
    assert one["ticketsAvailable"] == 0
    listing, tickets_etag = revalidate(anon, f"{base}/tickets")
    assert listing == []
    upcoming, list_etag = revalidate(anon, "/api/events", limit=200)
    assert event["id"] in [e["id"] for e in upcoming]

    ticket = list_for(seller, event["id"], 50)
    assert changed(anon, base, event_etag)["lowestPrice"] == 50
    assert [t["id"] for t in changed(anon, f"{base}/tickets", tickets_etag)] == [ticket["id"]]
    mine = next(
        e for e in changed(anon, "/api/events", list_etag, limit=200) if e["id"] == event["id"]
    )
    assert (mine["ticketsAvailable"], mine["lowestPrice"]) == (1, 50)

    tickets_etag = anon.get(f"{base}/tickets").headers["etag"]
    assert buyer.post("/api/orders", json={"ticketId": ticket["id"]}).status_code == 201
    assert changed(anon, f"{base}/tickets", tickets_etag) == []
    assert anon.get(base).json()["ticketsAvailable"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/tickets", {"q": "fresh"}), ("/api/tickets", {"sort": "price_asc"}),
     ("/api/tickets", {"offset": 300}), ("/api/events", {"q": "show"})],
)  # fmt: skip
def test_searches_and_deep_pages_have_etags_too(anon, path, params) -> None:
    revalidate(anon, path, **params)


def test_personal_answers_are_private(anon, seller) -> None:
    assert anon.get("/api/users/currentuser").headers["cache-control"] == "private, no-store"
    r = seller.get("/api/users/currentuser")
    assert r.json()["currentUser"]["id"] == seller.id
    assert r.headers["cache-control"] == "private, no-store"
    assert "etag" not in r.headers


def comparable(r) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in r.headers.items() if k not in ("date", "server")}
    return r.status_code, r.content, headers


@pytest.mark.parametrize(
    "path",
    ["/api/tickets?limit=12", "/api/tickets", "/api/events?limit=6&offset=0",
     "/api/tickets/{ticket}", "/api/events/{event}", "/api/events/{event}/tickets?limit=3"],
)  # fmt: skip
def test_the_fast_path_answers_what_the_route_answers(anon, seller, path) -> None:
    """The first GET builds the entry (the route), the next is answered in front of FastAPI
    (api/fastpath.py): the same status, bytes and headers; so is its 304."""
    event = new_event(seller)
    ticket = list_for(seller, event["id"], 30)
    path = path.format(ticket=ticket["id"], event=event["id"])
    built, served = anon.get(path), anon.get(path)
    assert comparable(built) == comparable(served)
    etag = built.headers["etag"]
    assert comparable(anon.get(path, headers={"If-None-Match": etag}))[0] == 304


@pytest.mark.parametrize(
    "query",
    [b"limit=12&limit=13", b"limit=0", b"limit=201", b"offset=-1", b"limit=x", b"q=a",
     b"status=sold", b"limit=150&offset=100", b"limit=12&"],
)  # fmt: skip
def test_the_fast_path_leaves_every_other_query_to_the_route(query) -> None:
    from ticketing_app.api.fastpath import key_for

    assert key_for("/api/tickets", query) is None
    assert key_for("/api/events/x/tickets", query) is None


def test_the_fast_path_keys() -> None:
    from ticketing_app.api.fastpath import key_for

    assert key_for("/api/tickets", b"") == ("tickets", 50, 0)
    assert key_for("/api/tickets", b"offset=12&limit=12") == ("tickets", 12, 12)
    assert key_for("/api/events", b"limit=6") == ("events", 6, 0)
    assert key_for("/api/tickets/abc", b"") == ("ticket", "abc")
    assert key_for("/api/tickets/abc", b"x=1") is None
    assert key_for("/api/events/abc", b"") == ("event", "abc")
    assert key_for("/api/events/abc/tickets", b"") == ("event-tickets", "abc", 50, 0)
    assert key_for("/api/tickets/", b"") is None
    assert key_for("/api/orders/abc", b"") is None


@pytest.mark.parametrize("path", ["/api/health", "/api/users/currentuser"])
def test_health_and_signed_out_currentuser_answer_as_their_routes(anon, path) -> None:
    """Answered in front of FastAPI for a GET; a HEAD still goes through the route (ApiEdges):
    the same status and headers."""
    fast, routed = anon.get(path), anon.head(path)
    assert fast.status_code == routed.status_code == 200
    for name in ("content-length", "content-type", "cache-control"):
        assert fast.headers.get(name) == routed.headers.get(name), name
    assert fast.json() in ({"status": "ok", "db": True}, {"currentUser": None})
