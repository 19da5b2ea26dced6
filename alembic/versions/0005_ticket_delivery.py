"""ticket delivery (SPEC §10): `ticket_files`; tickets.has_file; orders.e_ticket_code/_revoked_at

Existing rows stay valid: no ticket has a file (has_file defaults to false), no order has an
e-ticket (the code is NULL; orders completed before this migration get none). Columns are added
with plain `ALTER TABLE … ADD COLUMN` on both databases, as in 0004: an Alembic batch migration
on SQLite would recreate `tickets` and drop 0003's title search triggers.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_files",
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("size > 0", name="ck_ticket_files_size"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    false = "0" if op.get_bind().dialect.name == "sqlite" else "false"
    op.execute(f"ALTER TABLE tickets ADD COLUMN has_file BOOLEAN NOT NULL DEFAULT {false}")
    op.add_column("orders", sa.Column("e_ticket_code", sa.String(length=64), nullable=True))
    op.add_column("orders", sa.Column("e_ticket_revoked_at", sa.DateTime(), nullable=True))
    op.create_index("uq_orders_e_ticket_code", "orders", ["e_ticket_code"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_orders_e_ticket_code", table_name="orders")
    op.execute("ALTER TABLE orders DROP COLUMN e_ticket_revoked_at")
    op.execute("ALTER TABLE orders DROP COLUMN e_ticket_code")
    op.execute("ALTER TABLE tickets DROP COLUMN has_file")
    op.drop_table("ticket_files")
