"""Delivery over real HTTP: a granian process serving `build_api()` per database, paying
through a real localstripe. Users sign up over HTTP; orders are paid with POST /api/payments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support import Server
from tests.support.stripe import (
    LocalStripe,
    api_server_paying_through,
    localstripe_in_environment,
)

PUBLIC_URL = "http://tickets.test"


@pytest.fixture(scope="module")  # module: its environment must not reach later packages' apps
def delivery_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    # The test process's own gateway calls (refunds) use it too.
    with localstripe_in_environment(tmp_path_factory.mktemp("delivery-localstripe")) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    delivery_stripe: LocalStripe,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"delivery-{request.param}")
    with api_server_paying_through(
        delivery_stripe, request.param, "ticketing_delivery_api", directory, PUBLIC_URL=PUBLIC_URL
    ) as (srv, _db_url):
        yield srv


@pytest.fixture
def client(server: Server) -> Iterator:
    """`client()` a fresh signed-in user (`.email`, `.user_id` attributes); `client(False)`
    someone signed out."""
    opened: list[httpx.Client] = []

    def make(signed_in: bool = True) -> httpx.Client:
        http = httpx.Client(base_url=server.base_url, timeout=60)
        opened.append(http)
        if signed_in:
            email = f"d-{uuid.uuid4().hex[:10]}@example.com"
            r = http.post("/api/users/signup", json={"email": email, "password": "correct horse"})
            assert r.status_code == 201, r.text
            http.email = email  # type: ignore[attr-defined]
            http.user_id = r.json()["id"]  # type: ignore[attr-defined]
        return http

    yield make
    for http in opened:
        http.close()
