"""Session helpers in ticketing_app.db: rows stay readable after the session is gone."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.db_helpers import migrate
from ticketing_app.db import dispose_engines, get_engine, read_session, write_session
from ticketing_app.models import Ticket, utcnow
from ticketing_app.services import auth, tickets


def test_read_session_rows_usable_after_the_block(db_url, make_ticket):
    """Regression: read_session used to roll back on exit, expiring every row it returned, so
    `with read_session() as db: t = get_ticket(db, id)` then `t.title` raised
    DetachedInstanceError."""
    made = make_ticket(title="Readable")
    with read_session(db_url) as db:
        found = tickets.get_ticket(db, made.id)
        page = tickets.list_tickets(db)
    assert found.title == "Readable"
    assert [t.title for t in page.items] == ["Readable"]


def test_sqlite_readers_do_not_wait_for_an_open_write_transaction(sqlite_url, now):
    """Write sessions take SQLite's write lock up front (BEGIN IMMEDIATE); read sessions use a
    deferred BEGIN and, under WAL, read the last committed state without queueing."""
    with write_session(sqlite_url) as db:
        seller, _ = auth.signup(db, email="s@example.com", password="password1", now=now)
    with write_session(sqlite_url) as db:
        ticket = tickets.create_ticket(db, seller_id=seller.id, title="Old", price=20, now=now)
    seen: list[tuple[str, float]] = []

    def read() -> None:
        started = time.monotonic()
        with read_session(sqlite_url) as db:
            seen.append((tickets.get_ticket(db, ticket.id).title, time.monotonic() - started))

    with write_session(sqlite_url) as db, db.begin():
        db.exec(sa.update(Ticket).where(Ticket.id == ticket.id).values(title="New"))
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=10)
    assert len(seen) == 1 and seen[0][0] == "Old" and seen[0][1] < 5


def _signed_in_token(url: str) -> str:
    with write_session(url) as db:
        _user, token = auth.signup(db, email="drop@example.com", password="password1", now=utcnow())
    return token


def test_dropped_connection_fails_one_request_cleanly_then_reconnects(postgres_url):
    """The server drops a pooled connection used a moment ago (so it is not pinged: idle-only
    ping, docs/decisions.md 16). The request on it fails with SQLAlchemy's OperationalError —
    which the API answers with 503, never 500 — and the next one gets a fresh connection."""
    token = _signed_in_token(postgres_url)
    engine = get_engine(postgres_url)
    with engine.connect() as conn:  # the pool's one idle connection, just used
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT").connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    with read_session(postgres_url) as db, pytest.raises(OperationalError):
        auth.lookup_session(db, token=token, now=utcnow())  # a DriverQuery read
    with read_session(postgres_url) as db:
        found = auth.lookup_session(db, token=token, now=utcnow())
    assert found is not None and found[0].email == "drop@example.com"


def test_driver_query_reports_an_unreachable_database_as_operational_error(tmp_path):
    down = get_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    with read_session("postgresql+psycopg://postgres@127.0.0.1:1/nowhere") as db:
        assert db.get_bind().pool is down.pool
        with pytest.raises(OperationalError):
            auth.lookup_session(db, token="x" * 43, now=utcnow())


def test_sqlite_point_reads_do_not_queue_behind_an_open_write_transaction(sqlite_url, now):
    """The cookie lookup and the reservation's refusal read run on the process's one SQLite
    point-read connection: they read the last commit while a writer holds the write lock."""
    token = _signed_in_token(sqlite_url)
    took: list[float] = []

    def look_up() -> None:
        started = time.monotonic()
        with read_session(sqlite_url) as db:
            assert auth.lookup_session(db, token=token, now=utcnow()) is not None
        took.append(time.monotonic() - started)

    with write_session(sqlite_url) as db, db.begin():
        db.exec(sa.update(Ticket).values(title="Pending"))  # holds the write lock
        reader = threading.Thread(target=look_up)
        reader.start()
        reader.join(timeout=10)
    assert len(took) == 1 and took[0] < 5


def test_sqlite_point_read_fails_cleanly_then_reconnects(tmp_path):
    """A SQLite file that cannot be opened gives OperationalError (the API's 503); once it is
    there, the next read opens a fresh connection and succeeds."""
    url = f"sqlite:///{tmp_path / 'later' / 'app.db'}"
    with read_session(url) as db, pytest.raises(OperationalError):
        auth.lookup_session(db, token="x" * 43, now=utcnow())
    (tmp_path / "later").mkdir()
    migrate(url)
    token = _signed_in_token(url)
    with read_session(url) as db:
        found = auth.lookup_session(db, token=token, now=utcnow())
    assert found is not None and found[0].email == "drop@example.com"
    dispose_engines()


def test_sqlite_point_reads_follow_engine_dispose(sqlite_url, tmp_path):
    """After engine.dispose() the point-read connection is a new one too: a database file
    replaced in between is the one read (not the old file's open handle)."""
    token = _signed_in_token(sqlite_url)
    with read_session(sqlite_url) as db:
        assert auth.lookup_session(db, token=token, now=utcnow()) is not None
    get_engine(sqlite_url).dispose()
    path = Path(make_url(sqlite_url).database or "")
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    migrate(sqlite_url)  # an empty database at the same path
    with read_session(sqlite_url) as db:
        assert auth.lookup_session(db, token=token, now=utcnow()) is None
