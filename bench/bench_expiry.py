"""Expiry latency: N orders falling due within the same second; how long after `expires_at`
each is expired by the expiry scheduler (p50/p99/max), against a baseline drain of the same N
orders by bare SQL (one conditional UPDATE of order + ticket per transaction, one thread).

    .venv/bin/python bench/bench_expiry.py [--orders 1000] [--database pg|sqlite|both]

Orders are seeded by SQL (N buyers, N reserved tickets, N active orders due at T + i/N s,
T a few seconds ahead), then the real `ExpiryScheduler` is started in-process, exactly as the
backend's lease holder starts it: one timer per active order plus the 2 s sweep, 4 worker
threads. Latency per order = its `updated_at` (stamped by `expire_order` with the time it
ran) − `expires_at`. Target: p99 ≤ 1 s. The push to connected browsers comes after the commit
and is measured in docs/live.md, not here.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from common import fresh_postgres, fresh_sqlite, header, percentile, seed_users

from ticketing_app.db import dispose_engines, get_engine
from ticketing_app.jobs.expiry import ExpiryScheduler


def seed_due(engine: sa.Engine, n: int, due: datetime) -> list[dict[str, object]]:
    """N buyers each holding one reserved ticket by an active order due at `due` + i/N s;
    returns the orders as inserted (`id`, `u` buyer, `t` ticket, `exp`)."""
    (seller,) = seed_users(engine, 1, "seller")
    buyers = seed_users(engine, n, "buyer")
    now = datetime.now(UTC).replace(tzinfo=None)
    tickets, orders = [], []
    for i, buyer in enumerate(buyers):
        tid, oid = str(uuid.uuid4()), str(uuid.uuid4())
        exp = due.replace(tzinfo=None) + timedelta(seconds=i / n)
        tickets.append({"id": tid, "o": oid, "u": seller, "ts": now, "t": f"Due {i}"})
        orders.append({"id": oid, "u": buyer, "t": tid, "exp": exp, "ts": now})
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tickets (id, title, price_cents, user_id, order_id, status, "
                "version, created_at, updated_at) VALUES (:id, :t, 1000, :u, :o, 'reserved', 2, "
                ":ts, :ts)"
            ),
            tickets,
        )
        conn.execute(
            sa.text(
                "INSERT INTO orders (id, user_id, ticket_id, price_cents, status, expires_at, "
                "failed_payment_attempts, version, created_at, updated_at) VALUES "
                "(:id, :u, :t, 1000, 'created', :exp, 0, 1, :ts, :ts)"
            ),
            orders,
        )
    return orders


def wait_all_ended(engine: sa.Engine, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            left = conn.execute(
                sa.text("SELECT count(*) FROM orders WHERE status = 'created'")
            ).scalar_one()
        if left == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{left} orders still active")


def latencies(engine: sa.Engine) -> list[float]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT expires_at, updated_at, status FROM orders")).all()
    assert all(s == "expired" for _, _, s in rows)

    def naive(d: datetime | str) -> datetime:
        d = datetime.fromisoformat(d) if isinstance(d, str) else d
        return d.replace(tzinfo=None)

    return [(naive(u) - naive(e)).total_seconds() for e, u, _ in rows]


def run_scheduler(url: str, n: int) -> list[float]:
    engine = get_engine(url)
    due = datetime.now(UTC) + timedelta(seconds=3)
    seed_due(engine, n, due)
    scheduler = ExpiryScheduler(db_url=url)
    scheduler.start()
    try:
        wait_all_ended(engine, timeout=60)
    finally:
        scheduler.stop()
    return latencies(engine)


def run_raw(url: str, n: int) -> list[float]:
    """Baseline: bare SQL, the same two conditional UPDATEs per order, starting at T."""
    engine = get_engine(url)
    due = datetime.now(UTC) + timedelta(seconds=3)
    seed_due(engine, n, due)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM orders ORDER BY expires_at"))]
        ids_exp = dict(conn.execute(sa.text("SELECT id, expires_at FROM orders")).all())
    for oid in ids:
        exp = ids_exp[oid]
        exp = datetime.fromisoformat(exp) if isinstance(exp, str) else exp
        wait = (exp - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
        if wait > 0:
            time.sleep(wait)
        ts = datetime.now(UTC).replace(tzinfo=None)
        with engine.begin() as conn:
            changed = conn.execute(
                sa.text(
                    "UPDATE orders SET status = 'expired', version = version + 1, updated_at = :ts "
                    "WHERE id = :id AND status = 'created'"
                ),
                {"ts": ts, "id": oid},
            ).rowcount
            if changed:
                conn.execute(
                    sa.text(
                        "UPDATE tickets SET status = 'available', order_id = NULL, "
                        "version = version + 1, updated_at = :ts WHERE order_id = :id"
                    ),
                    {"ts": ts, "id": oid},
                )
    return latencies(engine)


def report(name: str, lat: list[float]) -> float:
    p50, p99, mx = percentile(lat, 50), percentile(lat, 99), max(lat)
    print(
        f"  {name:9s}: p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  max {mx * 1000:7.1f} ms"
    )
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--database", choices=["pg", "sqlite", "both"], default="both")
    args = parser.parse_args()
    header(f"Expiry latency: {args.orders} orders due within one second")
    targets = []
    if args.database in ("pg", "both"):
        # Two databases: the stopped scheduler's last jobs must not meet the second run's drop.
        names = iter(["ticketing_bench", "ticketing_bench_raw"])
        targets.append(("PostgreSQL", lambda: fresh_postgres(name=next(names))))
    if args.database in ("sqlite", "both"):
        targets.append(("SQLite", fresh_sqlite))
    for name, fresh in targets:
        print(f"{name}:")
        p99 = report("scheduler", run_scheduler(fresh(), args.orders))
        dispose_engines()
        base = report("raw SQL", run_raw(fresh(), args.orders))
        dispose_engines()
        print(f"  p99 {p99 * 1000:.0f} ms (target <= 1000 ms); ratio to raw SQL {p99 / base:.2f}")


if __name__ == "__main__":
    main()
