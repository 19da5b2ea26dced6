"""title search index: pg_trgm GIN on lower(title) (PostgreSQL only; no-op on SQLite)

`list_tickets` searches with `lower(title) LIKE '%q%'`, which no B-tree can serve; at 100,000
tickets that was a sequential scan per search (docs/performance.md). A trigram GIN index
serves infix LIKE on PostgreSQL. SQLite has no equivalent and keeps scanning.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_tickets_title_trgm "
        "ON tickets USING gin (lower(title) gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_tickets_title_trgm")
