"""GET /api/health: 200 when the database (and Redis/NATS, when configured) answer; 503 not."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from api_helpers import assert_error

from tests.db_helpers import migrate
from tests.support import free_port, spawn_server

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
TEST_NATS_URL = os.environ.get("TEST_NATS_URL")


def test_health_ok(anon) -> None:
    r = anon.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "db": True}


def health_of(tmp_path: Path, db_url: str, **env: str) -> httpx.Response:
    with spawn_server(
        "api", {"DATABASE_URL": db_url, **env}, log_path=tmp_path / "server.log"
    ) as srv:
        return httpx.get(f"{srv.base_url}/api/health", timeout=30)


def sqlite_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'health.db'}"
    migrate(url)
    return url


@pytest.mark.skipif(not (TEST_REDIS_URL and TEST_NATS_URL), reason="TEST_REDIS_URL/NATS_URL unset")
def test_health_reports_redis_and_nats_when_configured(tmp_path: Path) -> None:
    assert TEST_REDIS_URL and TEST_NATS_URL
    r = health_of(tmp_path, sqlite_db(tmp_path), REDIS_URL=TEST_REDIS_URL, NATS_URL=TEST_NATS_URL)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "db": True, "redis": True, "nats": True}


def test_health_503_when_redis_and_nats_unreachable(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    r = health_of(
        tmp_path,
        sqlite_db(tmp_path),
        REDIS_URL=f"redis://127.0.0.1:{dead}/0",
        NATS_URL=f"nats://127.0.0.1:{dead}",
    )
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["db"] is True
    assert body["redis"] is False and body["nats"] is False
    assert "redis" in body["errors"][0]["message"]


def test_health_503_and_api_503_when_database_down(tmp_path: Path) -> None:
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    with spawn_server("api", {"DATABASE_URL": db_url}, log_path=tmp_path / "server.log") as srv:
        r = httpx.get(f"{srv.base_url}/api/health", timeout=30)
        assert r.status_code == 503
        assert r.json()["db"] is False and r.json()["status"] == "unavailable"
        # Every other route says so in the error shape too, instead of a 500.
        assert_error(httpx.get(f"{srv.base_url}/api/tickets", timeout=30), 503)
        r = httpx.post(
            f"{srv.base_url}/api/users/signup",
            json={"email": "down@example.com", "password": "password1"},
            timeout=30,
        )
        assert_error(r, 503)
