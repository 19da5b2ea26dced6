"""The marketplace's invariants after a soak, checked directly in PostgreSQL (SPEC §3, §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa


def naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def check_invariants(db_url: str, orders: set[str], restart_wall: datetime) -> list[str]:
    """Assert every invariant; returns up to 10 succeeded PaymentIntent ids to check at Stripe."""
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            q = lambda sql: conn.execute(sa.text(sql)).all()  # noqa: E731
            found = {r[0] for r in q("SELECT id FROM orders")}
            assert orders <= found, f"lost orders: {sorted(orders - found)[:5]}"
            sold_twice = q("SELECT ticket_id FROM orders WHERE status = 'complete' "
                           "GROUP BY ticket_id HAVING count(*) > 1")  # fmt: skip
            assert not sold_twice, "a ticket sold twice"
            assert not q("SELECT t.id FROM tickets t WHERE t.status = 'sold' AND NOT EXISTS "
                         "(SELECT 1 FROM orders o WHERE o.ticket_id = t.id "
                         "AND o.status = 'complete')"), "sold without a complete order"  # fmt: skip
            charges = q("SELECT o.id, count(c.id) FILTER (WHERE c.status = 'succeeded') "
                        "FROM orders o LEFT JOIN charges c ON c.order_id = o.id "
                        "WHERE o.status = 'complete' GROUP BY o.id")  # fmt: skip
            assert charges and all(n == 1 for _, n in charges), charges
            assert not q("SELECT c.id FROM charges c JOIN orders o ON o.id = c.order_id "
                         "WHERE c.status = 'succeeded' AND o.status <> 'complete'")  # fmt: skip
            refunded = q("SELECT o.status FROM charges c JOIN orders o ON o.id = c.order_id "
                         "WHERE c.status = 'refunded'")  # fmt: skip
            assert all(s in ("expired", "cancelled") for (s,) in refunded), refunded
            late = [(i, e) for i, e in q("SELECT id, expires_at FROM orders "
                                         "WHERE status = 'created'")
                    if naive(e) + timedelta(seconds=2) < now]  # fmt: skip
            assert not late, f"orders still created past expires_at + 2 s: {late[:5]}"
            # Nothing half-written: a reserved ticket is held by an active order, and back.
            assert not q("SELECT t.id FROM tickets t LEFT JOIN orders o ON o.id = t.order_id "
                         "WHERE t.status = 'reserved' AND (o.id IS NULL OR o.status <> 'created' "
                         "OR o.ticket_id <> t.id)")  # fmt: skip
            # Expiries resumed after the restart: holds that fell due since then expired.
            resumed = conn.execute(
                sa.text("SELECT count(*) FROM orders WHERE status = 'expired' AND expires_at > :t"),
                {"t": naive(restart_wall)},
            ).scalar_one()
            assert resumed > 0, "no order expired after the backend restart"
            intents = [r[0] for r in q("SELECT stripe_id FROM charges WHERE status = 'succeeded' "
                                       "LIMIT 10")]  # fmt: skip
    finally:
        engine.dispose()
    return intents
