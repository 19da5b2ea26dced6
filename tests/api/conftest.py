"""A real backend process per database: granian serving `build_api()` on a free port.

The suite talks to it over HTTP only (httpx), like any client would. SQLite always; PostgreSQL
too when TEST_DATABASE_URL is set, in our own database `ticketing_api` (never the shared one).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_helpers import PASSWORD, TEST_DATABASE_URL, Client, postgres_api_url, unique_email

from tests.db_helpers import migrate
from tests.support import Server, spawn_server


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The running API, once per database backend for the whole session."""
    directory = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        db_url = f"sqlite:///{directory / 'api.db'}"
        migrate(db_url)
    else:
        if not TEST_DATABASE_URL:
            pytest.skip("TEST_DATABASE_URL not set (CI sets it)")
        db_url = postgres_api_url()
    srv = spawn_server("api", {"DATABASE_URL": db_url}, log_path=directory / "server.log")
    yield srv
    srv.remove()


@pytest.fixture
def anon(server: Server) -> Iterator[Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Client(http)


@pytest.fixture
def make_user(server: Server) -> Iterator:
    """`make_user()` signs up a fresh user and returns a Client holding its cookie."""
    clients: list[httpx.Client] = []

    def make(prefix: str = "user") -> Client:
        http = httpx.Client(base_url=server.base_url, timeout=30)
        clients.append(http)
        email = unique_email(prefix)
        r = http.post("/api/users/signup", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return Client(http, email=email, id=r.json()["id"])

    yield make
    for http in clients:
        http.close()


@pytest.fixture
def seller(make_user) -> Client:
    return make_user("seller")


@pytest.fixture
def buyer(make_user) -> Client:
    return make_user("buyer")
