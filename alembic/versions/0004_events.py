"""events (SPEC §9): the `events` table; tickets gain event_id, face_value_cents, withdrawn_reason

Existing tickets stay valid: the new ticket columns are nullable (no event, no face value, not
withdrawn). On SQLite the columns are added with plain `ALTER TABLE … ADD COLUMN` (a CHECK and
a REFERENCES clause are allowed there for a column whose default is NULL) rather than an
Alembic batch migration, which would recreate `tickets` and so drop the title search triggers
of 0003 (see its docstring).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_PRICE_CENTS = 100_000_000


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("venue", sa.String(length=120), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=700), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name="ck_events_status"),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 120 AND length(venue) BETWEEN 1 AND 120 "
            "AND length(city) BETWEEN 1 AND 80",
            name="ck_events_text_lengths",
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_events_dedupe_key", "events", ["dedupe_key"], unique=True)
    op.create_index("ix_events_status_starts", "events", ["status", "starts_at"])
    op.execute("ALTER TABLE tickets ADD COLUMN event_id VARCHAR(36) REFERENCES events (id)")
    op.execute(
        "ALTER TABLE tickets ADD COLUMN face_value_cents INTEGER "
        "CONSTRAINT ck_tickets_face_value CHECK (face_value_cents IS NULL OR "
        f"(face_value_cents > 0 AND face_value_cents <= {MAX_PRICE_CENTS}))"
    )
    op.execute("ALTER TABLE tickets ADD COLUMN withdrawn_reason VARCHAR(200)")
    op.create_index(
        "ix_tickets_event_status_price", "tickets", ["event_id", "status", "price_cents", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_event_status_price", table_name="tickets")
    if op.get_bind().dialect.name == "sqlite":
        # Dropping a column with a CHECK or REFERENCES needs a table rebuild on SQLite, which
        # drops 0003's triggers; rebuild them afterwards.
        import importlib.util
        from pathlib import Path

        spec = importlib.util.spec_from_file_location(
            "title_fts", Path(__file__).with_name("0003_title_fts5_trigram.py")
        )
        assert spec is not None and spec.loader is not None
        fts = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fts)
        fts.downgrade()
        op.execute("ALTER TABLE tickets DROP COLUMN face_value_cents")  # its CHECK goes along
        with op.batch_alter_table("tickets") as batch:
            batch.drop_column("withdrawn_reason")
            batch.drop_column("event_id")
        fts.upgrade()
    else:
        op.drop_column("tickets", "withdrawn_reason")
        op.drop_column("tickets", "face_value_cents")
        op.drop_column("tickets", "event_id")
    op.drop_index("ix_events_status_starts", table_name="events")
    op.drop_index("uq_events_dedupe_key", table_name="events")
    op.drop_table("events")
