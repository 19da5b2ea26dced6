"""Shared fixtures: throwaway databases on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL.

Every service test that takes `db_url` runs once per backend. Schemas are built by the real
Alembic migrations, so the migrations are tested too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

# Cheap argon2 in tests (the production cost is tested separately); set before app imports.
os.environ.setdefault("TICKETING_ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("TICKETING_ARGON2_TIME_COST", "1")

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from tests.db_helpers import migrate  # noqa: E402
from tests.support import World  # noqa: E402
from ticketing_app.db import dispose_engines, normalize_url, session_factory  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
TEST_NATS_URL = os.environ.get("TEST_NATS_URL")
TABLES = (
    "ledger_entries",
    "payouts",
    "audit_log",
    "notifications",
    "watches",
    "deliveries",
    "consumer_positions",
    "account_tokens",
    "domain_events",
    "ticket_files",
    "stripe_events",
    "charges",
    "orders",
    "tickets",
    "events",
    "signin_failures",
    "auth_sessions",
    "users",
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    migrate(url)
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set (CI sets it)")
    url = normalize_url(TEST_DATABASE_URL)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    migrate(url)
    return url


def fresh_sqlite_url(template: Path, directory: Path) -> str:
    path = directory / "ticketing.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def truncate_postgres(url: str) -> None:
    """Empty every table. Connections left over from an earlier test's background thread
    (a scheduler, a relay, a payment clean-up) are cut first, so they cannot deadlock with
    the TRUNCATE or write into the next test's database."""
    dispose_engines()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: SQLite file, and PostgreSQL where TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        url = fresh_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        url = request.getfixturevalue("postgres_migrated")
        truncate_postgres(url)
    yield url
    dispose_engines()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    yield fresh_sqlite_url(sqlite_template, tmp_path)
    dispose_engines()


@pytest.fixture
def postgres_url(postgres_migrated: str) -> Iterator[str]:
    truncate_postgres(postgres_migrated)
    yield postgres_migrated
    dispose_engines()


@pytest.fixture
def new_session(db_url: str) -> Callable[[], Session]:
    """Call it for a fresh Session; services own their transactions, one session per call."""
    factory = session_factory(db_url)
    return factory


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def world(db_url: str, now: datetime) -> World:
    """Users, tickets and orders through the real services on `db_url`, at `now`."""
    return World(db_url, now=now)
