"""Watches and in-app notifications over HTTP (SPEC §11), the match email received by a real
SMTP server (aiosmtpd) from a notifier running beside the API on the same database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from api_helpers import assert_error
from test_accounts_api import mail  # noqa: F401  (fixture)


def new_event(client) -> dict:
    starts = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    body = {
        "name": f"Show {uuid.uuid4().hex[:8]}",
        "venue": "Olympia",
        "city": "Paris",
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
    }
    r = client.post("/api/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_watch_routes(anon, seller, buyer):
    event = new_event(seller)
    path = f"/api/events/{event['id']}/watch"
    assert_error(anon.post(path, json={}), 401)
    assert_error(anon.get("/api/watches"), 401)
    assert_error(buyer.post(f"/api/events/{uuid.uuid4()}/watch", json={}), 404)
    assert_error(buyer.post(path, json={"maxPrice": -1}), 400, field="maxPrice")
    r = buyer.post(path, json={"maxPrice": 25})
    assert r.status_code == 201, r.text
    assert r.json()["maxPrice"] == 25 and r.json()["eventId"] == event["id"]
    r = buyer.post(path, json={})  # again: the maximum is re-set (here: none)
    assert r.status_code == 201 and r.json()["maxPrice"] is None
    (watch,) = buyer.get("/api/watches").json()
    assert (watch["eventId"], watch["eventName"]) == (event["id"], event["name"])
    assert buyer.delete(path).status_code == 204
    assert buyer.delete(path).status_code == 204
    assert buyer.get("/api/watches").json() == []


def test_matching_listing_emails_the_watcher_once(seller, buyer, make_user, mail):  # noqa: F811
    event = new_event(seller)
    path = f"/api/events/{event['id']}/watch"
    pricey = make_user("pricey")
    assert buyer.post(path, json={"maxPrice": 50}).status_code == 201
    assert pricey.post(path, json={"maxPrice": 10}).status_code == 201
    r = seller.post("/api/tickets", json={"title": "Seat", "price": 40, "eventId": event["id"]})
    assert r.status_code == 201, r.text
    ticket = r.json()
    (match,) = mail.to(buyer.email, "New ticket")
    assert match.subject == f"New ticket for {event['name']}: Seat at $40.00"
    assert match.link("/tickets/").endswith(f"/tickets/{ticket['id']}")
    mail.notifier.run_once()  # more passes: still one
    mail.notifier.run_once()
    assert len([m for m in mail.smtp.inbox.to(buyer.email) if "New ticket" in m.subject]) == 1
    assert not [m for m in mail.smtp.inbox.to(pricey.email) if "New ticket" in m.subject]
    r = buyer.get("/api/notifications")
    assert r.status_code == 200 and r.headers["x-unread-count"] == "1"
    (note,) = r.json()
    assert note["link"] == f"/tickets/{ticket['id']}" and note["read"] is False
    assert buyer.post("/api/notifications/read", json={}).json() == {"marked": 1}
    assert buyer.get("/api/notifications").headers["x-unread-count"] == "0"
    assert pricey.get("/api/notifications").json() == []
