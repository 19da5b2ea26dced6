"""title search index: FTS5 trigram table over ticket titles (SQLite only; no-op on PostgreSQL)

`list_tickets` searches with `lower(title) LIKE '%q%'`; on SQLite that scanned every ticket
(a one-match search at 100,000 tickets was 15.8x the same at 1,000, docs/performance.md §5).
0002 gave PostgreSQL a pg_trgm index; this gives SQLite an FTS5 table with the `trigram`
tokenizer (SQLite >= 3.34), which finds the tickets whose title contains a >= 3-character
string without reading the others. `list_tickets` uses it only to narrow the candidates and
still applies the LIKE, so results are the same with or without it.

`tickets_title_fts` keeps its own copy of each title (not external content: deleting a row
then needs only its rowid, never the old text) under the ticket's rowid; triggers keep it in
step with INSERT, UPDATE OF title and DELETE on `tickets`.

Recreating `tickets` (an Alembic batch migration does: copy, drop, rename) drops these
triggers and renumbers rowids. `list_tickets` then ignores the table (it checks that the
table and its three triggers exist) and falls back to the full LIKE scan; such a migration
should end with `downgrade()` and `upgrade()` of this module's statements to rebuild it.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = "tickets_title_fts"
TRIGGERS = (f"{FTS_TABLE}_ai", f"{FTS_TABLE}_au", f"{FTS_TABLE}_ad")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, tokenize = 'trigram')")
    op.execute(
        f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON tickets BEGIN "
        f"INSERT OR REPLACE INTO {FTS_TABLE} (rowid, title) VALUES (new.rowid, new.title); "
        "END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF title ON tickets BEGIN "
        f"DELETE FROM {FTS_TABLE} WHERE rowid = old.rowid; "
        f"INSERT OR REPLACE INTO {FTS_TABLE} (rowid, title) VALUES (new.rowid, new.title); "
        "END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON tickets BEGIN "
        f"DELETE FROM {FTS_TABLE} WHERE rowid = old.rowid; "
        "END"
    )
    op.execute(f"INSERT INTO {FTS_TABLE} (rowid, title) SELECT rowid, title FROM tickets")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
