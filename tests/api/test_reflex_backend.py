"""Production backend as deployed: `reflex run --env prod --backend-only --backend-port PORT`
serves the REST API (mounted on Reflex's own app via api_transformer) on that port.

Runs in a throwaway directory that symlinks the sources, so Reflex writes its `.states/` and
`.web/backend/` there and never into the shared checkout (other engineers build `.web/`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from api_helpers import (
    PASSWORD,
    assert_api_edges,
    assert_error,
    cookie_header_parts,
    start_reflex_backend,
    unique_email,
)


@pytest.fixture(scope="module")
def reflex_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    backend = start_reflex_backend(
        tmp_path_factory.mktemp("reflex-backend"), {"TICKETING_LOCK_SECONDS": "42"}
    )
    try:
        yield backend.base_url
    finally:
        backend.stop()


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
