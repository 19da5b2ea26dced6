"""`make demo-data` gives a realistic market: a dozen upcoming events in several cities, several
tickets each (some sold), and running it again adds nothing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from ticketing_app import demo
from ticketing_app.db import read_session
from ticketing_app.models import Event, Ticket, User, utcnow
from ticketing_app.services import events, payouts
from ticketing_app.settings import reset_settings


def test_demo_data_is_a_market_and_idempotent(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    reset_settings()
    try:
        demo.seed()
        with read_session(db_url) as db:
            page = events.list_events(db, now=utcnow(), limit=50)
            statuses = dict(
                db.exec(select(Ticket.status, sa.func.count()).group_by(Ticket.status)).all()
            )
        assert page.total == len(demo.EVENTS) == 12
        assert len({s.event.city for s in page.items}) >= 3
        assert all(s.tickets_available >= 1 for s in page.items)
        assert statuses["sold"] >= 3 and statuses["available"] >= 20
        prices = {s.lowest_price_cents for s in page.items}
        assert len(prices) > 6  # varied
        # SPEC §12: a seller with money to pay out (an old sale without an event).
        with read_session(db_url) as db:
            alice = db.exec(select(User).where(User.email == demo.USERS[0])).one()
        with read_session(db_url) as db:
            assert payouts.get_balance(db, seller_id=alice.id).available == 3500
        demo.seed()
        with read_session(db_url) as db:
            assert payouts.get_balance(db, seller_id=alice.id).available == 3500
        with read_session(db_url) as db:
            assert db.exec(select(sa.func.count()).select_from(Event)).one() == 12
            assert db.exec(select(sa.func.count()).select_from(Ticket)).one() == sum(
                statuses.values()
            )
    finally:
        monkeypatch.undo()
        reset_settings()
