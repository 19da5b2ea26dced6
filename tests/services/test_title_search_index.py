"""Title search on SQLite through the FTS5 trigram index (migration 0003): the same results as
the plain LIKE scan, the index kept in step with the tickets by its triggers, and a rare term
found without reading every ticket. (The search tests in test_tickets.py run on both backends.)
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ticketing_app.db import get_engine, read_session
from ticketing_app.models import Ticket
from ticketing_app.services import tickets

ROOT = Path(__file__).resolve().parents[2]
FTS = tickets.TITLE_FTS_TABLE

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

TITLES = [
    "100% Fun",
    "100 fun",
    "a_b night",
    "Axb Night",
    'Say "Hello" Tour',
    "O'Brien live",
    "Ça va Été",
    "été indien",
    "ÉTÉ INDIEN",
    "Straße Fest",
    "Back\\slash show",
    "日本のロック",
    "Guitar 🎸 night",
    "***stars***",
    "col:umn NEAR(x) AND y OR -z ^start",
    "Coldplay at Wembley",
    "COLDPLAY AT BERCY",
]
QUERIES = [
    "fun",
    "FUN",
    "0% f",
    "100%",
    "%",
    "_",
    "a_b",
    "A_B n",
    "axb",
    '"hello"',
    '"',
    'say "h',
    "o'brien",
    "'",
    "ça va",
    "été",
    "ÉTÉ",
    "été indien",
    "straße",
    "STRASSE",
    "\\",
    "k\\sl",
    "日本",
    "日本のロ",
    "🎸",
    "r 🎸 n",
    "***",
    "*",
    "near(x)",
    "and y or -z",
    "^start",
    "col:umn",
    "x",
    "ab",
    "at",
    "coldplay at",
    "  wembley  ",
    "col\x00dplay",
    "nothing like it",
]


def search(url: str, **kwargs: Any) -> tuple[list[str], int]:
    with read_session(url) as db:
        page = tickets.list_tickets(db, **kwargs)
    return [t.title for t in page.items], page.total


@contextmanager
def recorded_sql(url: str) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine of `url` runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    engine = get_engine(url)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def uses_index(statements: list[tuple[str, Any]]) -> bool:
    return any(f"{FTS} MATCH" in sql for sql, _ in statements)


def alembic(url: str, command_name: str, revision: str) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    getattr(command, command_name)(cfg, revision)


def copy_without_index(url: str, directory: Path) -> str:
    """A copy of the database without 0003's FTS table and triggers: same tickets (and the
    later migrations' columns, which the app reads)."""
    path = directory / "without-index.db"
    source = sqlite3.connect(make_url(url).database or "")
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    plain = f"sqlite:///{path}"
    with sqlite3.connect(path) as conn:
        for trigger in ("ai", "au", "ad"):
            conn.execute(f"DROP TRIGGER {FTS}_{trigger}")
        conn.execute(f"DROP TABLE {FTS}")
    return plain


def index_rows(url: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(rowid, title) of the FTS table and of `tickets`, each in rowid order."""
    with read_session(url) as db:
        indexed = db.execute(sa.text(f"SELECT rowid, title FROM {FTS} ORDER BY rowid")).all()
        table = db.execute(sa.text("SELECT rowid, title FROM tickets ORDER BY rowid")).all()
    return [tuple(r) for r in indexed], [tuple(r) for r in table]


def fts_objects(url: str) -> set[str]:
    with read_session(url) as db:
        names = db.execute(sa.text("SELECT name FROM sqlite_master")).scalars().all()
    return set(names) & set(tickets.TITLE_FTS_OBJECTS)


def test_search_through_the_index_matches_the_plain_like_scan(
    db_url, make_ticket, new_session, seller, now, tmp_path, subtests
) -> None:
    made = [make_ticket(title=t, at=now + timedelta(seconds=i)) for i, t in enumerate(TITLES)]
    with new_session() as db:
        tickets.update_ticket(
            db, user_id=seller.id, ticket_id=made[1].id, title="100 fun again", price=20, now=now
        )
    with new_session() as db:
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=made[3].id, now=now)
    plain = copy_without_index(db_url, tmp_path)
    assert fts_objects(plain) == set()

    with recorded_sql(db_url) as indexed_sql:
        assert search(db_url, q="WEMBLEY") == (["Coldplay at Wembley"], 1)
    assert uses_index(indexed_sql)
    with recorded_sql(plain) as plain_sql:
        assert search(plain, q="WEMBLEY") == (["Coldplay at Wembley"], 1)
    assert not uses_index(plain_sql)

    for q in QUERIES:
        for status in ("available", "all"):
            with subtests.test(q=q, status=status):
                assert search(db_url, q=q, status=status) == search(plain, q=q, status=status)
    # A few results spelled out, so both paths being wrong alike would show too.
    assert search(db_url, q='"hello"') == (['Say "Hello" Tour'], 1)
    assert search(db_url, q="0% f") == (["100% Fun"], 1)
    assert search(db_url, q="a_b")[0] == ["a_b night"]
    assert search(db_url, q="fun again") == (["100 fun again"], 1)
    assert search(db_url, q="axb") == ([], 0)  # cancelled
    assert search(db_url, q="axb", status="cancelled") == (["Axb Night"], 1)
    assert search(db_url, q="coldplay at") == (["COLDPLAY AT BERCY", "Coldplay at Wembley"], 2)
    assert search(db_url, q="日本のロ") == (["日本のロック"], 1)


def test_triggers_keep_the_index_in_step_with_tickets(
    db_url, make_ticket, new_session, seller, now, rows
) -> None:
    alpha, beta, gamma = (
        make_ticket(title=t, at=now + timedelta(seconds=i))
        for i, t in enumerate(["Alpha gig", "Beta gig", "Gamma gig"])
    )
    indexed, table = index_rows(db_url)
    assert indexed == table and len(table) == 3

    with new_session() as db:
        tickets.update_ticket(
            db, user_id=seller.id, ticket_id=alpha.id, title="Omega gig", price=20, now=now
        )
    with new_session() as db:
        tickets.update_ticket(  # price only: the title is written again, unchanged
            db, user_id=seller.id, ticket_id=beta.id, title="Beta gig", price=30, now=now
        )
    with new_session() as db:
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=gamma.id, now=now)
    rows.execute(sa.delete(Ticket).where(Ticket.id == beta.id))
    indexed, table = index_rows(db_url)
    assert indexed == table and sorted(t for _, t in table) == ["Gamma gig", "Omega gig"]

    assert search(db_url, q="omega") == (["Omega gig"], 1)
    assert search(db_url, q="alpha") == ([], 0)
    assert search(db_url, q="beta", status="all") == ([], 0)
    assert search(db_url, q="gamma") == ([], 0)
    assert search(db_url, q="gamma", status="cancelled") == (["Gamma gig"], 1)
    assert search(db_url, q="gig", status="all") == (["Gamma gig", "Omega gig"], 2)


def test_downgrade_drops_the_index_and_upgrade_backfills_it(db_url, make_ticket, now) -> None:
    first = make_ticket(title="Before the index", at=now)
    alembic(db_url, "downgrade", "0002")
    assert fts_objects(db_url) == set()
    # Written at 0002 with that schema's columns (the app's model needs later migrations).
    with get_engine(db_url).begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tickets (id, title, price_cents, user_id, status, version, "
                "created_at, updated_at) VALUES (:id, 'While there is no index', 2000, :user, "
                "'available', 1, :at, :at)"
            ),
            {
                "id": str(uuid.uuid4()),
                "user": first.user_id,
                "at": (now + timedelta(seconds=1)).replace(tzinfo=None),
            },
        )

    alembic(db_url, "upgrade", "head")
    assert fts_objects(db_url) == set(tickets.TITLE_FTS_OBJECTS)
    indexed, table = index_rows(db_url)
    assert indexed == table and len(table) == 2
    with recorded_sql(db_url) as statements:
        assert search(db_url, q="index") == (["While there is no index", "Before the index"], 2)
    assert uses_index(statements)


def test_search_falls_back_to_like_when_a_trigger_is_missing(db_url, make_ticket, now) -> None:
    """Recreating `tickets` (an Alembic batch migration) drops its triggers: the index would go
    stale, so the search ignores it."""
    make_ticket(title="Stale index show", at=now)
    with get_engine(db_url).begin() as conn:
        conn.execute(sa.text(f"DROP TRIGGER {FTS}_ai"))
    make_ticket(title="Newer stale show", at=now + timedelta(seconds=1))
    with recorded_sql(db_url) as statements:
        assert search(db_url, q="stale") == (["Newer stale show", "Stale index show"], 2)
    assert not uses_index(statements)


def plans(url: str, statements: list[tuple[str, Any]]) -> list[str]:
    """EXPLAIN QUERY PLAN of each recorded SELECT on tickets, one string per statement."""
    found = []
    with read_session(url) as db:
        for sql, params in statements:
            if sql.lstrip().upper().startswith("SELECT") and re.search(r"FROM tickets\b", sql):
                cursor = db.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
                found.append(" | ".join(row[3] for row in cursor))
    return found


def test_rare_term_reads_the_index_and_common_term_stops_at_a_page(
    db_url, seller, now, tmp_path
) -> None:
    artists = ["Coldplay", "Adele", "Muse", "Bjork", "Radiohead"]
    n = tickets.TITLE_FTS_SPARSE + 200
    with get_engine(db_url).begin() as conn:
        conn.execute(
            sa.insert(Ticket.__table__),
            [
                {
                    "id": f"00000000-0000-4000-8000-{i:012d}",
                    "title": f"{artists[i % 5]} at Wembley #{i}",
                    "price_cents": 1000 + i,
                    "user_id": seller.id,
                    "status": "available",
                    "version": 1,
                    "created_at": now - timedelta(seconds=i),
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
    plain = copy_without_index(db_url, tmp_path)

    with recorded_sql(db_url) as statements:
        assert search(db_url, q="#742") == (["Muse at Wembley #742"], 1)
    rare_plans = plans(db_url, statements)
    assert len(rare_plans) == 2  # the page and the count
    for plan in rare_plans:  # this database has no ANALYZE statistics, as a new one would not
        assert f"{FTS} VIRTUAL TABLE" in plan, plan
        assert "SEARCH tickets USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert not re.search(r"\bSCAN tickets\b|USING INDEX", plan), plan

    # Every title contains " at ": more candidates than TITLE_FTS_SPARSE, so the page is the
    # LIKE scan along the newest-first index, which stops once it has the page.
    with recorded_sql(db_url) as statements:
        titles, total = search(db_url, q=" at ", limit=20)
    assert titles == [f"{artists[i % 5]} at Wembley #{i}" for i in range(20)]
    assert total == 20 + tickets.SEARCH_COUNT_AHEAD
    assert not any(
        f"{FTS} MATCH" in sql for sql, _ in statements if re.search(r"FROM tickets\b", sql)
    )
    assert "USING INDEX ix_tickets_status_created" in plans(db_url, statements)[0]

    for q in ("#742", "#74", "coldplay", "ADELE AT", " at ", "#1", "wembley #11"):
        for kwargs in ({}, {"sort": "price_desc", "limit": 7, "offset": 3}):
            assert search(db_url, q=q, **kwargs) == search(plain, q=q, **kwargs), (q, kwargs)
