"""Production backend as deployed: `reflex run --env prod --backend-only --backend-port PORT`
serves the REST API (mounted on Reflex's own app via api_transformer) on that port.

Runs in a throwaway directory that symlinks the sources, so Reflex writes its `.states/` and
`.web/backend/` there and never into the shared checkout (other engineers build `.web/`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from api_helpers import PASSWORD, assert_api_edges, assert_error, cookie_header_parts, unique_email

from tests.support import spawn_server

SITE = "https://tickets.example"
STATIC_SITE = "https://static.example:8443"
REFUSED_ORIGINS = ["https://evil.example", "https://tickets.example.evil.example", "null",
                   "http://tickets.example", "https://static.example"]  # fmt: skip


@pytest.fixture(scope="module")
def reflex_backend() -> Iterator[str]:
    env = {
        "TICKETING_LOCK_SECONDS": "42",
        "PUBLIC_URL": SITE,
        "TICKETING_ALLOWED_ORIGINS": f"{STATIC_SITE}, https://admin.example",
    }
    with spawn_server("backend", env) as backend:
        yield backend.base_url


@pytest.mark.slow
def test_reflex_prod_backend_serves_the_api(reflex_backend: str) -> None:
    with httpx.Client(base_url=reflex_backend, timeout=30) as seller:
        assert seller.get("/api/health").json() == {"status": "ok", "db": True}
        r = seller.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        assert r.status_code == 201
        assert "httponly" in cookie_header_parts(r)
        ticket = seller.post("/api/tickets", json={"title": "Prod gig", "price": 15.5}).json()
        assert ticket["price"] == 15.5
        listed = seller.get("/api/tickets", params={"q": "Prod gig"}).json()
        assert [t["id"] for t in listed] == [ticket["id"]]
    with httpx.Client(base_url=reflex_backend, timeout=30) as buyer:
        buyer.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        order = buyer.post("/api/orders", json={"ticketId": ticket["id"]}).json()
        held = datetime.fromisoformat(order["expiresAt"]) - datetime.fromisoformat(
            order["createdAt"]
        )
        assert held.total_seconds() == 42  # TICKETING_LOCK_SECONDS from the environment


def test_reflex_mount_keeps_api_errors_in_shape(reflex_backend: str) -> None:
    """Reflex's own app is mounted at the root behind ours; /api paths stay ours."""
    with httpx.Client(base_url=reflex_backend, timeout=30) as c:
        assert_error(c.get("/api/no-such-route"), 404, "Not found")
        r = c.patch("/api/tickets")
        assert_error(r, 405)
        assert {m.strip() for m in r.headers["allow"].split(",")} <= {"GET", "HEAD", "POST"}
        assert_api_edges(c)  # Reflex's mount answered these in plain text
        assert c.get("/ping").status_code == 200  # Reflex's endpoints still answer
        assert c.get("/api/openapi.json").json()["info"]["title"] == "Ticketing API"


def test_cors_allows_exactly_the_deployments_origins(reflex_backend: str) -> None:
    """Reflex's default reflected any Origin with credentials: a sibling subdomain or port
    could read the visitor's orders. Now PUBLIC_URL and TICKETING_ALLOWED_ORIGINS only."""
    with httpx.Client(base_url=reflex_backend, timeout=30) as browser:
        r = browser.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        assert r.status_code == 201
        for origin in (SITE, STATIC_SITE, "https://admin.example"):
            r = browser.get("/api/users/currentuser", headers={"Origin": origin})
            assert r.headers.get("access-control-allow-origin") == origin, r.headers
            assert r.headers.get("access-control-allow-credentials") == "true"
            preflight = browser.options(
                "/api/tickets",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 200
            assert preflight.headers.get("access-control-allow-origin") == origin
        for origin in REFUSED_ORIGINS:
            r = browser.get("/api/users/currentuser", headers={"Origin": origin})
            assert r.status_code == 200  # the browser, not the server, withholds the answer
            assert "access-control-allow-origin" not in r.headers, (origin, r.headers)
            preflight = browser.options(
                "/api/tickets",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 400, origin
            assert "access-control-allow-origin" not in preflight.headers


async def _socket_user_email(base: str, origin: str, session: str) -> str:
    """Open the Reflex socket as a browser on `origin` holding `session` would, boot `/`, and
    return the e-mail the navbar's state shows; socketio's ConnectionError when refused."""
    import socketio

    from ticketing_app.state.nav import NavState

    nav = NavState.get_full_name()
    root = nav.split(".")[0]
    shown: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sio = socketio.AsyncClient(reconnection=False)

    async def on_event(data: dict) -> None:
        email = (data.get("delta") or {}).get(nav, {}).get("user_email_rx_state_")
        if email and not shown.done():
            shown.set_result(email)

    sio.on("event", on_event, namespace="/_event")
    token = str(uuid.uuid4())
    boot = {"token": token, "name": f"{root}.hydrate_and_load", "payload": {},
            "router_data": {"pathname": "/", "asPath": "/"}}  # fmt: skip
    try:
        await sio.connect(
            f"{base}?token={token}",
            headers={"Origin": origin, "Cookie": f"session={session}"},
            auth={"event": boot},
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=["/_event"],
            wait_timeout=30,
        )
        return await asyncio.wait_for(shown, 60)
    finally:
        await sio.disconnect()
        if sio.eio.http is not None and not sio.eio.http.closed:
            await sio.eio.http.close()


def test_socket_accepts_exactly_the_deployments_origins(reflex_backend: str) -> None:
    """The socket answered any Origin as the signed-in user (only SameSite=Lax stood
    between a sibling subdomain or port and the account)."""
    import socketio

    email = unique_email("socket")
    with httpx.Client(base_url=reflex_backend, timeout=30) as browser:
        r = browser.post("/api/users/signup", json={"email": email, "password": PASSWORD})
        session = r.cookies["session"]
    for origin in (SITE, STATIC_SITE):
        assert asyncio.run(_socket_user_email(reflex_backend, origin, session)) == email
    for origin in REFUSED_ORIGINS[:2]:
        with pytest.raises(socketio.exceptions.ConnectionError):
            asyncio.run(_socket_user_email(reflex_backend, origin, session))
