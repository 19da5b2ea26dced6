"""Migrated throwaway databases for tests and benchmarks: `migrate(url)` (the real Alembic
migrations) and `fresh_postgres(name)` (a PostgreSQL database of our own, never the shared one).

A plain module with no side effects (no fixtures, no environment or settings changes), so
conftest files, helper modules, test modules and bench scripts all import it as
`tests.db_helpers` (the checkout root is on sys.path under `python -m pytest` and once
bench/common.py is imported). Never import a conftest.py as a module instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ticketing_app.db import normalize_url

ROOT = Path(__file__).resolve().parents[1]


def migrate(url: str) -> None:
    """Apply the Alembic migrations to `url` (SQLite or PostgreSQL), up to head."""
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def fresh_postgres(name: str, server_url: str | None = None) -> str:
    """Database `name` on the server of `server_url` (default TEST_DATABASE_URL): created if
    missing, its `public` schema dropped and re-created, then migrated. Returns its URL.

    When `server_url` names a database other than `test`, that name is appended
    (`ticketing_api_test_lead` for `.../test_lead`): runs given different test databases
    (to run side by side) never empty each other's own databases either."""
    server_url = server_url or os.environ.get("TEST_DATABASE_URL")
    assert server_url, "TEST_DATABASE_URL not set"
    admin_url = make_url(normalize_url(server_url))
    if admin_url.database and admin_url.database != "test":
        name = f"{name}_{re.sub(r'[^a-z0-9_]', '_', admin_url.database.lower())}"[:63]
    assert re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name), name
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = admin_url.set(database=name)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    rendered = url.render_as_string(hide_password=False)
    migrate(rendered)
    return rendered
