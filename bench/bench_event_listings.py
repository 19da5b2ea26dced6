"""Events at scale (SPEC §9): the front door's events query (GET /api/events, the call `/`
makes: upcoming events with their ticket count and lowest price) with 10,000 events / 100,000
tickets relative to 100 / 1,000; and GET /api/events/{id}/tickets for an event with 5,000
tickets relative to one with 50. Ratios within one run; target ≤ 1.5× for both.

    .venv/bin/python bench/bench_event_listings.py [--large 10000] [--small 100]
        [--per-event 10] [--requests 40] [--database pg|sqlite|both]

Server: the granian process the API tests use (tests/api/api_helpers.start_api_server), one
per database, both up at once; requests alternate between the two sizes (and the two events)
so outside load hits both alike. Reports median and p90 per request kind and their ratio.
Tickets: 80 % available, the rest sold, prices varied. Databases are ANALYZEd after seeding.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import ROOT, fresh_postgres, fresh_sqlite, header, now, percentile, seed_users

from ticketing_app.db import dispose_engines, get_engine

sys.path.insert(0, str(ROOT / "tests" / "api"))
from api_helpers import start_api_server, stop  # noqa: E402

CITIES = ("Paris", "London", "Berlin", "Amsterdam", "Madrid")
FRONT_DOOR = {
    "first page (limit 6)": {"limit": "6"},
    "page 2 (limit 50)": {"limit": "50", "offset": "50"},
}
BIG, SMALL = 5000, 50


def _insert(conn: sa.Connection, table: str, columns: list[str], rows: list[dict]) -> None:
    statement = sa.text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    for start in range(0, len(rows), 5000):
        conn.execute(statement, rows[start : start + 5000])


def _tickets(seller: str, event_id: str, n: int, base, offset: int = 0) -> list[dict]:
    return [
        {
            "id": str(uuid.uuid4()),
            "title": f"Seat {i}",
            "price_cents": 1000 + ((i + offset) * 37) % 20000,
            "user_id": seller,
            "status": "available" if i % 5 else "sold",
            "version": 1,
            "created_at": base,
            "updated_at": base,
            "event_id": event_id,
        }
        for i in range(n)
    ]


def seed(url: str, events: int, per_event: int) -> tuple[str, str]:
    """`events` upcoming events with `per_event` tickets each, plus two more events with BIG
    and SMALL tickets; returns the ids of those two."""
    engine = get_engine(url)
    (seller,) = seed_users(engine, 1, "seller")
    base = now()
    event_rows, ticket_rows = [], []
    for i in range(events + 2):
        starts = base + timedelta(days=1, minutes=97 * i)
        event_id = str(uuid.uuid4())
        event_rows.append(
            {
                "id": event_id,
                "name": f"Show {i}",
                "venue": f"Hall {i % 40}",
                "city": CITIES[i % len(CITIES)],
                "starts_at": starts,
                "status": "scheduled",
                "dedupe_key": json.dumps([f"show {i}", f"hall {i % 40}", starts.isoformat()]),
                "created_by": seller,
                "version": 1,
                "created_at": base,
                "updated_at": base,
            }
        )
        count = per_event if i < events else (BIG if i == events else SMALL)
        ticket_rows += _tickets(seller, event_id, count, base, offset=i)
    with engine.begin() as conn:
        _insert(conn, "events", list(event_rows[0]), event_rows)
        _insert(conn, "tickets", list(ticket_rows[0]), ticket_rows)
        conn.execute(sa.text("ANALYZE"))
    dispose_engines()
    return event_rows[events]["id"], event_rows[events + 1]["id"]


def timed(client: httpx.Client, path: str, params: dict[str, str]) -> float:
    start = time.perf_counter()
    r = client.get(path, params=params)
    elapsed = time.perf_counter() - start
    assert r.status_code == 200 and r.json(), r.text
    return elapsed * 1000


def report(kind: str, small: list[float], large: list[float], labels: tuple[str, str]) -> None:
    ms, ml = statistics.median(small), statistics.median(large)
    print(
        f"  {kind:28s} {labels[0]} p50 {ms:6.1f} ms p90 {percentile(small, 90):6.1f} | "
        f"{labels[1]} p50 {ml:6.1f} ms p90 {percentile(large, 90):6.1f} | "
        f"ratio {ml / ms:.2f} (target <= 1.5)"
    )


def bench(name: str, urls: dict[str, str], events: dict[str, tuple[str, str]], n: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-events-"))
    servers = {size: start_api_server(url, workdir / f"{size}.log") for size, url in urls.items()}
    try:
        clients = {s: httpx.Client(base_url=srv.base_url, timeout=60) for s, srv in servers.items()}
        print(f"{name}:")
        for kind, params in FRONT_DOOR.items():
            samples: dict[str, list[float]] = {"small": [], "large": []}
            for client in clients.values():
                for _ in range(5):  # warm-up
                    timed(client, "/api/events", params)
            for _ in range(n):
                for size, client in clients.items():
                    samples[size].append(timed(client, "/api/events", params))
            report(f"/api/events {kind}", samples["small"], samples["large"], ("100 ev", "10k ev"))
        client = clients["large"]
        big, small = events["large"]
        paths = {"small": f"/api/events/{small}/tickets", "large": f"/api/events/{big}/tickets"}
        samples = {"small": [], "large": []}
        for path in paths.values():
            for _ in range(5):
                timed(client, path, {})
        for _ in range(n):
            for size, path in paths.items():
                samples[size].append(timed(client, path, {}))
        report("/api/events/{id}/tickets", samples["small"], samples["large"], ("50 t", "5k t"))
    finally:
        for srv in servers.values():
            stop(srv.proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--per-event", type=int, default=10)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database", choices=["pg", "sqlite", "both"], default="both")
    args = parser.parse_args()
    header(
        f"Events at scale: {args.large} vs {args.small} events, {args.per_event} tickets each; "
        f"an event's tickets, {BIG} vs {SMALL}"
    )
    for database in ("pg", "sqlite"):
        if args.database not in (database, "both"):
            continue
        if database == "pg":
            urls = {
                "small": fresh_postgres(name="ticketing_bench_events_small"),
                "large": fresh_postgres(name="ticketing_bench_events_large"),
            }
        else:
            urls = {"small": fresh_sqlite(), "large": fresh_sqlite()}
        ids = {
            "small": seed(urls["small"], args.small, args.per_event),
            "large": seed(urls["large"], args.large, args.per_event),
        }
        bench("PostgreSQL" if database == "pg" else "SQLite", urls, ids, args.requests)


if __name__ == "__main__":
    main()
