"""Session helpers in ticketing_app.db: rows stay readable after the session is gone."""

from __future__ import annotations

from ticketing_app.db import read_session
from ticketing_app.services import tickets


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
