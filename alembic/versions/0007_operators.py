"""operators and money (SPEC §12), the shared part: users gain `is_operator` and
`suspended_at`; orders snapshot the fees (`fee_cents` the buyer pays on top of the price,
`seller_fee_cents` kept from the seller's proceeds, `total_cents` = price + fee, what Stripe
charges); `audit_log` records every operator action (who, what, when, why).

Columns are added with plain ALTER TABLE ... DEFAULT (no batch rebuild of `users` or
`orders` on SQLite); existing orders get fee 0 and total = price, which is what they were
charged.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN is_operator BOOLEAN NOT NULL DEFAULT false")
    op.execute("ALTER TABLE users ADD COLUMN suspended_at TIMESTAMP")
    op.execute("ALTER TABLE orders ADD COLUMN fee_cents INTEGER NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE orders ADD COLUMN seller_fee_cents INTEGER NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE orders ADD COLUMN total_cents INTEGER NOT NULL DEFAULT 0")
    op.execute("UPDATE orders SET total_cents = price_cents + fee_cents")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_created", "audit_log", ["created_at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_created", table_name="audit_log")
    op.drop_table("audit_log")
    for column in ("total_cents", "seller_fee_cents", "fee_cents"):
        op.execute(f"ALTER TABLE orders DROP COLUMN {column}")
    op.execute("ALTER TABLE users DROP COLUMN suspended_at")
    op.execute("ALTER TABLE users DROP COLUMN is_operator")
