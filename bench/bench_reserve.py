"""Contended reservations at the service layer: B concurrent buyers race for T tickets.

    .venv/bin/python bench/bench_reserve.py [--buyers 200] [--tickets 50] [--rounds 3]
        [--database pg|sqlite|both] [--database-url URL] [--raw-connections N]

Each round lists T fresh tickets; B threads start together and each tries tickets in its own
random order (at most --tries of them) until it wins one. Checked after every round: exactly T
orders, one per ticket, every ticket reserved by its order (no double sell).

Measured: reservation attempts per second (each attempt is one transaction, won or refused),
for `orders.reserve_ticket` (the real service: reads, checks, conditional UPDATE, INSERT, two
outbox events) and for the baseline, the bare conditional UPDATE + INSERT as raw SQL through
psycopg / sqlite3 with as many pooled connections as the engine's pool (override with
--raw-connections; on SQLite the service also has its one point-read connection), at the same
concurrency.
Rounds alternate; the best of each is compared, and each round's service/raw ratio is printed
with their median (less sensitive to one lucky round on a shared machine). Target: service
≥ 0.5 × raw.
"""

from __future__ import annotations

import argparse
import queue
import random
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from common import fresh_postgres, fresh_sqlite, header, seed_tickets, seed_users
from sqlalchemy.engine import make_url

from ticketing_app.db import dispose_engines, get_engine
from ticketing_app.errors import DomainError
from ticketing_app.services import orders

Attempt = Callable[[str, str], bool]  # (buyer_id, ticket_id) -> won?


class RawPool:
    """A fixed set of DBAPI connections handed out through a queue (psycopg has no pool)."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._q: queue.Queue[Any] = queue.Queue()
        for _ in range(size):
            self._q.put(connect())

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = self._q.get()
        try:
            yield conn
        finally:
            self._q.put(conn)

    def close(self) -> None:
        while not self._q.empty():
            self._q.get().close()


UPDATE = (
    "UPDATE tickets SET status = 'reserved', order_id = {p}, version = version + 1, "
    "updated_at = {p} WHERE id = {p} AND status = 'available'"
)
INSERT = (
    "INSERT INTO orders (id, user_id, ticket_id, price_cents, status, expires_at, "
    "failed_payment_attempts, version, created_at, updated_at) "
    "SELECT {p}, {p}, id, price_cents, 'created', {p}, 0, 1, {p}, {p} FROM tickets WHERE id = {p}"
)


def raw_attempt_pg(pool: RawPool) -> Attempt:
    update, insert = UPDATE.format(p="%s"), INSERT.format(p="%s")

    def attempt(buyer_id: str, ticket_id: str) -> bool:
        order_id, ts = str(uuid.uuid4()), datetime.now(UTC).replace(tzinfo=None)
        with pool.connection() as conn, conn.transaction():
            cur = conn.execute(update, (order_id, ts, ticket_id))
            if cur.rowcount != 1:
                return False
            exp = ts + timedelta(minutes=15)
            conn.execute(insert, (order_id, buyer_id, exp, ts, ts, ticket_id))
            return True

    return attempt


def raw_attempt_sqlite(pool: RawPool) -> Attempt:
    update, insert = UPDATE.format(p="?"), INSERT.format(p="?")

    def attempt(buyer_id: str, ticket_id: str) -> bool:
        order_id, ts = str(uuid.uuid4()), datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
        with pool.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute(update, (order_id, ts, ticket_id)).rowcount != 1:
                    return False
                conn.execute(insert, (order_id, buyer_id, ts, ts, ts, ticket_id))
                return True
            finally:
                conn.execute("COMMIT")

    return attempt


def service_attempt(url: str) -> Attempt:
    def attempt(buyer_id: str, ticket_id: str) -> bool:
        try:  # as POST /api/orders calls it
            orders.reserve_ticket(
                get_engine(url), buyer_id=buyer_id, ticket_id=ticket_id, now=datetime.now(UTC)
            )
            return True
        except DomainError:
            return False

    return attempt


def run_round(attempt: Attempt, buyers: list[str], tickets: list[str], tries: int) -> float:
    """Attempts per second for one race; every thread starts at the same barrier."""
    counts = [0] * len(buyers)
    barrier = threading.Barrier(len(buyers) + 1)
    errors: list[BaseException] = []

    def buyer(i: int) -> None:
        order = random.sample(tickets, min(tries, len(tickets)))
        barrier.wait()
        try:
            for ticket_id in order:
                counts[i] += 1
                if attempt(buyers[i], ticket_id):
                    return
        except BaseException as exc:  # surfaced below: a crash is a failed benchmark
            errors.append(exc)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(len(buyers))]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def check_round(engine: sa.Engine, tickets: list[str]) -> None:
    """Exactly one order per ticket, each ticket reserved by that order: no double sell."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT t.id, t.status, t.order_id, count(o.id) AS n, min(o.id) AS oid "
                "FROM tickets t LEFT JOIN orders o ON o.ticket_id = t.id "
                "WHERE t.id IN :ids GROUP BY t.id, t.status, t.order_id"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": tickets},
        ).all()
    assert len(rows) == len(tickets), rows
    for tid, status, order_id, n, oid in rows:
        assert n == 1 and status == "reserved" and order_id == oid, (tid, status, order_id, n)


def bench(url: str, args: argparse.Namespace) -> tuple[float, float]:
    engine = get_engine(url)
    (seller,) = seed_users(engine, 1, "seller")
    buyers = seed_users(engine, args.buyers, "buyer")
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    size = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    if is_sqlite:
        path = make_url(url).database

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn

        make_raw = lambda: RawPool(connect, args.raw_connections or size)  # noqa: E731
        wrap = raw_attempt_sqlite
    else:
        import psycopg

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        make_raw = lambda: RawPool(  # noqa: E731
            lambda: psycopg.connect(dsn, autocommit=True), args.raw_connections or size
        )
        wrap = raw_attempt_pg
    best = {"service": 0.0, "raw": 0.0}
    paired: list[float] = []  # service / raw of each round (the two sides run back to back)
    for r in range(args.rounds):
        for name in ("service", "raw"):
            # One side's connections at a time: the shared server allows only 100 in all.
            engine = get_engine(url)
            tickets = seed_tickets(engine, seller, args.tickets)
            raw = make_raw() if name == "raw" else None
            if raw is None:  # open the pool's connections before the clock, as the raw pool does
                held = [engine.connect() for _ in range(size)]
                for conn in held:
                    conn.close()
            fn = wrap(raw) if raw else service_attempt(url)
            rate = run_round(fn, buyers, tickets, args.tries)
            if raw:
                raw.close()
            check_round(engine, tickets)
            dispose_engines()
            best[name] = max(best[name], rate)
            print(
                f"  round {r + 1} {name:7s}: {rate:8.0f} attempts/s  ({args.tickets} orders, "
                "one per ticket)"
            )
            if name == "service":
                service_rate = rate
            else:
                paired.append(service_rate / rate)
    print(
        "  per-round ratios "
        + " ".join(f"{x:.2f}" for x in paired)
        + f"; median {statistics.median(paired):.2f}"
    )
    return best["service"], best["raw"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=50)
    parser.add_argument("--tries", type=int, default=10, help="tickets each buyer tries at most")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--database-url", help="PostgreSQL admin URL (default TEST_DATABASE_URL)")
    parser.add_argument(
        "--raw-connections", type=int, help="the baseline's connections (default: as the pool)"
    )
    args = parser.parse_args()
    header(f"Contended reservations: {args.buyers} buyers, {args.tickets} tickets")
    targets = []
    if args.database in ("pg", "both"):
        targets.append(("PostgreSQL", fresh_postgres(args.database_url)))
    if args.database in ("sqlite", "both"):
        targets.append(("SQLite", fresh_sqlite()))
    for name, url in targets:
        print(f"{name}:")
        svc, raw = bench(url, args)
        print(
            f"{name}: service {svc:.0f} attempts/s, raw SQL {raw:.0f} attempts/s, "
            f"ratio {svc / raw:.2f} (target >= 0.5)"
        )
        dispose_engines()


if __name__ == "__main__":
    main()
