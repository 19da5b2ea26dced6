"""Session helpers in ticketing_app.db: rows stay readable after the session is gone."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from ticketing_app.db import read_session, write_session
from ticketing_app.models import Ticket
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
