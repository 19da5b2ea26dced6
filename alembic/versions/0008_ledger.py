"""seller ledger and payouts (SPEC §12): `payouts` (a seller's request for their available
balance, marked paid by an operator with a reference) and `ledger_entries` (append-only,
signed integer cents per bucket: pending, available, payout, paid_out).

Orders completed before this revision get their `sale` row (pending, proceeds = price −
seller fee as snapshotted: the price for orders from before 0007), dated at the order's last
change; the release sweep then moves those whose event (or sale) is more than 48 hours past
to available. Nothing else is backfilled: there were no refunds of completed orders or
payouts before.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("seller_id", sa.String(length=36), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("paid_by", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name="ck_payouts_amount"),
        sa.CheckConstraint("status IN ('requested', 'paid')", name="ck_payouts_status"),
        sa.CheckConstraint(
            "(status = 'paid') = (reference IS NOT NULL AND paid_at IS NOT NULL)",
            name="ck_payouts_paid_reference",
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["paid_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payouts_seller_created", "payouts", ["seller_id", "created_at"])
    op.create_index("ix_payouts_status_created", "payouts", ["status", "created_at"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seller_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("payout_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sale', 'release', 'refund', 'payout', 'payout_paid')",
            name="ck_ledger_kind",
        ),
        sa.CheckConstraint(
            "bucket IN ('pending', 'available', 'payout', 'paid_out')", name="ck_ledger_bucket"
        ),
        sa.CheckConstraint("amount_cents <> 0", name="ck_ledger_amount"),
        sa.CheckConstraint("(order_id IS NULL) <> (payout_id IS NULL)", name="ck_ledger_one_source"),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["payout_id"], ["payouts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_ledger_order_step",
        "ledger_entries",
        ["order_id", "kind", "bucket"],
        unique=True,
        sqlite_where=sa.text("order_id IS NOT NULL"),
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )
    op.create_index(
        "uq_ledger_payout_step",
        "ledger_entries",
        ["payout_id", "kind", "bucket"],
        unique=True,
        sqlite_where=sa.text("payout_id IS NOT NULL"),
        postgresql_where=sa.text("payout_id IS NOT NULL"),
    )
    op.create_index("ix_ledger_seller_id", "ledger_entries", ["seller_id", "id"])
    op.create_index(
        "ix_ledger_seller_bucket", "ledger_entries", ["seller_id", "bucket", "amount_cents"]
    )
    op.execute(
        "INSERT INTO ledger_entries (seller_id, kind, bucket, amount_cents, order_id, created_at) "
        "SELECT t.user_id, 'sale', 'pending', o.price_cents - o.seller_fee_cents, o.id, "
        "o.updated_at FROM orders o JOIN tickets t ON t.id = o.ticket_id "
        "WHERE o.status = 'complete' AND o.price_cents > o.seller_fee_cents "
        "ORDER BY o.updated_at, o.id"
    )


def downgrade() -> None:
    for name in ("ix_ledger_seller_bucket", "ix_ledger_seller_id"):
        op.drop_index(name, table_name="ledger_entries")
    op.drop_index("uq_ledger_payout_step", table_name="ledger_entries")
    op.drop_index("uq_ledger_order_step", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_payouts_status_created", table_name="payouts")
    op.drop_index("ix_payouts_seller_created", table_name="payouts")
    op.drop_table("payouts")
