"""The operators' REST routes (SPEC §12) over HTTP, on a real API process per database:
every route refuses the signed-out (401) and everyone but an operator (403) and changes
nothing; an operator's calls change what they say, with the audit row."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from admin_helpers import audit_rows, event_ticket, make_event
from api.api_helpers import PASSWORD, assert_error

from tests.support import Server, World, unique_email
from tests.support.stripe import LocalStripe, api_server_paying_through
from ticketing_app.db import write_session
from ticketing_app.services import operators


@dataclass
class Api:
    server: Server
    db_url: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, localstripe: LocalStripe, tmp_path_factory: Any
) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp(f"admin-api-{request.param}")
    with api_server_paying_through(
        localstripe, request.param, "ticketing_admin_api", directory
    ) as (srv, db_url):
        yield Api(srv, db_url)


@pytest.fixture
def world(api: Api) -> World:
    return World(api.db_url, now=datetime.now(UTC))


@pytest.fixture
def client(api: Api) -> Iterator[Callable[..., httpx.Client]]:
    """`client()` a fresh signed-up user's HTTP client (`.user_id`, `.email`);
    `client(operator=True)` an operator's; `client(signed_in=False)` nobody's."""
    made: list[httpx.Client] = []

    def make(*, signed_in: bool = True, operator: bool = False) -> httpx.Client:
        http = httpx.Client(base_url=api.server.base_url, timeout=30)
        made.append(http)
        if signed_in:
            email = unique_email("admin-api")
            r = http.post("/api/users/signup", json={"email": email, "password": PASSWORD})
            assert r.status_code == 201, r.text
            http.user_id, http.email = r.json()["id"], email  # type: ignore[attr-defined]
            if operator:
                with write_session(api.db_url) as db:
                    operators.set_operator(db, email=email, operator=True, now=datetime.now(UTC))
        return http

    yield make
    for http in made:
        http.close()


def _routes(world: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    seller = world.user()
    ticket = world.ticket(seller)
    event = make_event(world)
    order = world.order()
    return [
        ("POST", f"/api/admin/users/{seller.id}/suspend", {"reason": "r"}),
        ("POST", f"/api/admin/users/{seller.id}/reinstate", {"reason": "r"}),
        ("POST", f"/api/admin/tickets/{ticket.id}/withdraw", {"reason": "r"}),
        ("PATCH", f"/api/admin/events/{event.id}", {"reason": "r", "name": "New name"}),
        ("POST", f"/api/admin/events/{event.id}/cancel", {"reason": "r"}),
        ("POST", f"/api/admin/orders/{order.id}/refund", {"reason": "r"}),
        ("GET", "/api/admin/audit", None),
        ("GET", "/api/admin/domain-events", None),
        ("GET", "/api/admin/users?q=a", None),
    ]


def test_every_admin_route_refuses_the_signed_out_and_non_operators(
    world: World, client: Callable[..., httpx.Client]
) -> None:
    routes = _routes(world)
    anon, user = client(signed_in=False), client()
    before = world.events()
    for method, path, body in routes:
        assert_error(anon.request(method, path, json=body), 401)
        assert_error(user.request(method, path, json=body), 403, operators.OPERATORS_ONLY)
        # Even with no body at all the role is checked first.
        assert_error(user.request(method, path), 403)
    assert len(world.events()) == len(before)  # nothing changed
    assert audit_rows(world) == []
    spec = client(signed_in=False).get("/api/openapi.json").json()["paths"]
    for method, path, _ in routes:
        template = next(
            p for p in spec if p.startswith("/api/admin") and _matches(p, path.split("?")[0])
        )
        responses = spec[template][method.lower()]["responses"]
        assert {"401", "403"} <= set(responses), template


def _matches(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_an_operator_suspends_withdraws_edits_cancels_refunds_and_reads_the_audit(
    world: World, client: Callable[..., httpx.Client], localstripe: LocalStripe
) -> None:
    operator = client(operator=True)
    seller = client()
    r = seller.post("/api/tickets", json={"title": "Front row", "price": 30})
    assert r.status_code == 201, r.text
    listing = r.json()["id"]

    assert_error(
        operator.post(f"/api/admin/users/{seller.user_id}/suspend", json={}), 400, field="reason"
    )
    r = operator.post(f"/api/admin/users/{seller.user_id}/suspend", json={"reason": "Fraud"})
    assert r.status_code == 200, r.text
    assert r.json()["suspended"] is True and r.json()["id"] == seller.user_id
    assert_error(seller.get(f"/api/tickets/{listing}/file"), 401)  # the session is gone
    assert world.get_ticket(listing).status == "cancelled"
    fresh = httpx.Client(base_url=str(operator.base_url))
    r = fresh.post("/api/users/signin", json={"email": seller.email, "password": PASSWORD})
    assert_error(r, 403)
    assert "suspended" in r.json()["errors"][0]["message"]
    r = fresh.post("/api/users/signin", json={"email": seller.email, "password": "nope nope"})
    assert_error(r, 400, "Invalid credentials")
    r = operator.post(f"/api/admin/users/{seller.user_id}/reinstate", json={"reason": "Ok"})
    assert r.status_code == 200 and r.json()["suspended"] is False

    ticket = world.ticket(world.user())
    r = operator.post(f"/api/admin/tickets/{ticket.id}/withdraw", json={"reason": "Fake"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["withdrawnReason"]) == (
        "cancelled",
        "Withdrawn by an operator: Fake",
    )

    event = make_event(world)
    event_ticket(world, world.user(), event)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    r = operator.patch(
        f"/api/admin/events/{event.id}",
        json={"reason": "Moved", "venue": "Arena", "startsAt": start.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["venue"] == "Arena" and r.json()["ticketsAvailable"] == 1

    order = world.order()
    charge = world.pay(order)
    r = operator.post(f"/api/admin/orders/{order.id}/refund", json={"reason": "Complaint"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["charge"]["status"] == "refunded"
    assert len(localstripe.refunds_of(charge.stripe_id)) == 1
    assert_error(operator.post(f"/api/admin/orders/{order.id}/refund", json={"reason": "x"}), 400)

    r = operator.post(f"/api/admin/events/{event.id}/cancel", json={"reason": "Storm"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["ticketsAvailable"] == 0
    assert_error(operator.post("/api/admin/events/nope/cancel", json={"reason": "x"}), 404)

    audit = operator.get("/api/admin/audit").json()
    assert [a["action"] for a in audit] == [
        "event.cancel",
        "order.refund",
        "event.edit",
        "ticket.withdraw",
        "user.reinstate",
        "user.suspend",
    ]
    assert audit[-1]["operatorEmail"] == operator.email and audit[-1]["reason"] == "Fraud"
    feed = operator.get(
        "/api/admin/domain-events", params={"type": "EventUpdated", "aggregateId": event.id}
    ).json()
    assert [e["payload"].get("change") for e in feed] == ["cancelled", "edited"]
    users = operator.get("/api/admin/users", params={"q": seller.email}).json()
    assert [u["id"] for u in users] == [seller.user_id]


def test_cancel_clicked_twice_at_once_over_http_refunds_once(
    world: World, client: Callable[..., httpx.Client], localstripe: LocalStripe
) -> None:
    operator = client(operator=True)
    event = make_event(world)
    paid = world.order(world.user(), event_ticket(world, world.user(), event))
    charge = world.pay(paid)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def cancel() -> None:
        with httpx.Client(base_url=str(operator.base_url), cookies=operator.cookies) as http:
            barrier.wait()
            r = http.post(f"/api/admin/events/{event.id}/cancel", json={"reason": "Storm"})
            statuses.append(r.status_code)

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200, 400]
    assert [r.amount for r in localstripe.refunds_of(charge.stripe_id)] == [charge.amount_cents]
    assert [c.status for c in world.charges(paid)] == ["refunded"]
    assert len(audit_rows(world, action="event.cancel", target_id=event.id)) == 1
