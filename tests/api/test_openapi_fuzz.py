"""The OpenAPI document describes the contract, and schemathesis fuzzes the live server with it.

The fuzz run signs in with a real session cookie (via the `APIKeyCookie` security scheme, so
schemathesis also tries requests without it) and seeds real ticket/order ids, so generated
requests reach the business logic and not only "not found". Checks: no 5xx, responses and
status codes as documented, bad input rejected, auth required where declared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from api_helpers import PASSWORD, unique_email

from tests.db_helpers import migrate
from tests.support import Server, spawn_server
from tests.support.stripe import start_localstripe

SPEC_ROUTES = {
    ("post", "/api/users/signup"): (201, {400}),
    ("post", "/api/users/signin"): (200, {400, 429}),
    ("post", "/api/users/signout"): (200, set()),
    ("get", "/api/users/currentuser"): (200, set()),
    ("get", "/api/tickets"): (200, {400}),
    ("post", "/api/tickets"): (201, {400, 401}),
    ("get", "/api/tickets/{ticket_id}"): (200, {404}),
    ("put", "/api/tickets/{ticket_id}"): (200, {400, 401, 403, 404}),
    ("delete", "/api/tickets/{ticket_id}"): (204, {400, 401, 403, 404}),
    ("post", "/api/orders"): (201, {400, 401, 404}),
    ("get", "/api/orders"): (200, {401}),
    ("get", "/api/orders/{order_id}"): (200, {401, 403, 404}),
    ("delete", "/api/orders/{order_id}"): (204, {400, 401, 403, 404}),
    ("get", "/api/health"): (200, {503}),
    # SPEC §9
    ("post", "/api/events"): (201, {400, 401}),
    ("get", "/api/events"): (200, {400}),
    ("get", "/api/events/{event_id}"): (200, {404}),
    ("get", "/api/events/{event_id}/tickets"): (200, {400, 404}),
}
PAYMENT_ROUTES = {
    ("post", "/api/payments"): (201, {400, 401, 402, 403, 404}),
    ("post", "/api/webhooks/stripe"): (200, {400}),
}
BODY_ROUTES = {("post", "/api/users/signup"), ("post", "/api/users/signin")} | {
    (m, p) for m, p in SPEC_ROUTES if m in ("post", "put") and "users" not in p
}


def test_openapi_describes_every_route(anon) -> None:
    r = anon.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    routes = dict(SPEC_ROUTES)
    if "/api/payments" in paths:  # added by the payments feature
        routes |= PAYMENT_ROUTES
    for (method, path), (success, errors) in routes.items():
        op = paths[path][method]
        responses = op["responses"]
        assert str(success) in responses, (method, path)
        if success != 204:
            assert "schema" in responses[str(success)]["content"]["application/json"]
        for code in errors:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema, (method, path, code)
        assert "422" not in responses  # validation errors are 400 here
        if (method, path) in BODY_ROUTES:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            assert body["properties"], (method, path)
        if 401 in errors:
            assert {"APIKeyCookie": []} in op["security"], (method, path)
    error = doc["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["errors"]["items"]["$ref"].endswith("ErrorItem")
    assert doc["components"]["securitySchemes"]["APIKeyCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "Opaque session token set (HttpOnly) by signup/signin",
    }


def _client(base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=30)
    r = c.post("/api/users/signup", json={"email": unique_email("fuzz"), "password": PASSWORD})
    assert r.status_code == 201
    return c


def seed(base: str) -> tuple[str, list[str], list[str], list[str]]:
    """A fuzzing user with own listings (some for events) and orders, plus someone else's;
    returns its token and the ids."""
    me, other = _client(base), _client(base)
    starts = datetime.now(UTC) + timedelta(days=30)
    events = [
        me.post(
            "/api/events",
            json={
                "name": f"Fuzz show {i}",
                "venue": "Hall",
                "city": "Town",
                "startsAt": (starts + timedelta(days=i)).isoformat(),
            },
        ).json()["id"]
        for i in range(3)
    ]
    mine = [
        me.post(
            "/api/tickets",
            json={"title": f"Mine {i}", "price": 10 + i, "eventId": events[i % 3]},
        ).json()["id"]
        for i in range(6)
    ]
    theirs = [
        other.post("/api/tickets", json={"title": f"Theirs {i}", "price": 5 + i}).json()["id"]
        for i in range(12)
    ]
    # Three holds: the most one buyer may have at once (TICKETING_MAX_ACTIVE_ORDERS).
    orders = [me.post("/api/orders", json={"ticketId": t}).json()["id"] for t in theirs[:3]]
    orders.append(other.post("/api/orders", json={"ticketId": mine[0]}).json()["id"])
    token = me.cookies["session"]
    me.close()
    other.close()
    return token, mine + theirs, orders, events


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def run_schemathesis(base: str, workdir: Path, config: str, *args: str) -> None:
    (workdir / "schemathesis.toml").write_text(config)
    cmd = [
        str(Path(sys.executable).parent / "st"),
        "--config-file", str(workdir / "schemathesis.toml"),
        "run", f"{base}/api/openapi.json",
        "--checks", "all",
        # SPEC answers 400 to schema-valid requests that break a rule ("Email in use").
        "--exclude-checks", "positive_data_acceptance,use_after_free",
        "--workers", "1",
        "--request-timeout", "30",
        "--generation-database", "none",
        "--no-color",
        *args,
    ]  # fmt: skip
    result = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=300, env={**os.environ}
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> Iterator[Server]:
    """SQLite only (fuzzing need not repeat per backend), with localstripe behind payments."""
    directory = tmp_path_factory.mktemp("api-fuzz")
    db_url = f"sqlite:///{directory / 'api.db'}"
    migrate(db_url)
    stripe = start_localstripe(directory)
    try:
        srv = spawn_server(
            "api",
            {"DATABASE_URL": db_url, "STRIPE_API_BASE": stripe.base_url},
            log_path=directory / "server.log",
        )
        yield srv
        srv.remove()
    finally:
        stripe.stop()


@pytest.mark.slow
def test_schemathesis_signed_in(fuzz_server: Server, tmp_path: Path) -> None:
    token, tickets, orders, events = seed(fuzz_server.base_url)
    config = f"""
[auth.openapi.APIKeyCookie]
api_key = "{token}"

[dictionaries.tickets]
values = {toml_list(tickets)}

[dictionaries.orders]
values = {toml_list(orders)}

[dictionaries.events]
values = {toml_list(events)}

[parameters]
"path.ticket_id" = {{ dictionary = "tickets", probability = 0.6 }}
"body.ticketId" = {{ dictionary = "tickets", probability = 0.6 }}
"path.order_id" = {{ dictionary = "orders", probability = 0.6 }}
"body.orderId" = {{ dictionary = "orders", probability = 0.6 }}
"path.event_id" = {{ dictionary = "events", probability = 0.6 }}
"body.eventId" = {{ dictionary = "events", probability = 0.6 }}
"""
    # Signing out would revoke the shared session mid-run; it is fuzzed anonymously below.
    run_schemathesis(
        fuzz_server.base_url,
        tmp_path,
        config,
        "--max-examples",
        "25",
        "--exclude-path",
        "/api/users/signout",
    )
    assert "Traceback" not in fuzz_server.log()


@pytest.mark.slow
def test_schemathesis_anonymous_account_routes(fuzz_server: Server, tmp_path: Path) -> None:
    run_schemathesis(
        fuzz_server.base_url,
        tmp_path,
        "",
        "--max-examples",
        "15",
        "--include-path-regex",
        "^/api/users/",
    )
    assert "Traceback" not in fuzz_server.log()
