"""Listing at scale: the first page of GET /api/tickets and of a title search with 100,000
tickets, relative to the same requests with 1,000 tickets, in the same run.

    .venv/bin/python bench/bench_listing.py [--large 100000] [--small 1000] [--requests 40]
        [--database pg|sqlite|both]

Server: the granian process the API tests use (tests.support.spawn_server("api")), one
per database size, both up at once; requests alternate between them so outside load hits both
alike. Titles are "<artist> at <venue> #<n>" with 20 artists, so `q=coldplay` matches 5% of the
tickets and `q=#742 ` a few: the search trims the query, so it is `#742`, which matches #742,
#7420-#7429 and #74200-#74299 (111 of 100,000 tickets, 1 of 1,000). Reports the median and
p90 latency per request kind and size, and large/small ratios of the medians. Target: ≤ 1.5×.
SQLite databases are ANALYZEd after seeding; the title search plan does not depend on it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import (
    fresh_postgres,
    fresh_sqlite,
    header,
    now,
    percentile,
    seed_users,
)

from tests.support import spawn_server  # noqa: E402  (the server the API tests run)
from ticketing_app.db import dispose_engines, get_engine

ARTISTS = [
    "Coldplay",
    "Adele",
    "Muse",
    "Bjork",
    "Radiohead",
    "Beyonce",
    "Metallica",
    "Shakira",
    "Rosalia",
    "Stromae",
    "Sade",
    "Queen",
    "Abba",
    "Blur",
    "Oasis",
    "Pulp",
    "Drake",
    "Rihanna",
    "Nirvana",
    "Portishead",
]
VENUES = ("Wembley", "the O2", "Bercy", "Olympia", "Paradiso", "Royal Albert Hall")
KINDS = {
    "first page": {},
    "search common (5%)": {"q": "coldplay"},
    "search rare": {"q": "#742 "},
}


def seed(url: str, n: int) -> None:
    engine = get_engine(url)
    (seller,) = seed_users(engine, 1, "seller")
    base = now()
    rows = [
        {
            "id": str(uuid.uuid4()),
            "title": f"{ARTISTS[i % 20]} at {VENUES[i % 6]} #{i} ",
            "p": 1000 + (i * 37) % 50000,
            "u": seller,
            "ts": base - timedelta(seconds=i),
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        for start in range(0, n, 10000):
            conn.execute(
                sa.text(
                    "INSERT INTO tickets (id, title, price_cents, user_id, status, version, "
                    "created_at, updated_at) VALUES (:id, :title, :p, :u, 'available', 1, :ts, :ts)"
                ),
                rows[start : start + 10000],
            )
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE tickets"))
        else:
            conn.execute(sa.text("ANALYZE"))
    dispose_engines()


def timed_get(client: httpx.Client, params: dict[str, str]) -> float:
    start = time.perf_counter()
    r = client.get("/api/tickets", params=params)
    elapsed = time.perf_counter() - start
    assert r.status_code == 200 and r.json(), r.text
    return elapsed * 1000


def bench(name: str, urls: dict[str, str], requests: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    servers = {
        size: spawn_server("api", {"DATABASE_URL": url}, log_path=workdir / f"{size}.log")
        for size, url in urls.items()
    }
    try:
        clients = {s: httpx.Client(base_url=srv.base_url, timeout=60) for s, srv in servers.items()}
        samples: dict[tuple[str, str], list[float]] = {}
        for kind, params in KINDS.items():
            for client in clients.values():
                for _ in range(5):  # warm-up: plans cached, pages in memory
                    timed_get(client, params)
            for _ in range(requests):
                for size, client in clients.items():
                    samples.setdefault((kind, size), []).append(timed_get(client, params))
        print(f"{name}:")
        for kind in KINDS:
            small, large = samples[(kind, "small")], samples[(kind, "large")]
            ms, ml = statistics.median(small), statistics.median(large)
            print(
                f"  {kind:20s} small p50 {ms:6.1f} ms p90 {percentile(small, 90):6.1f} | "
                f"large p50 {ml:6.1f} ms p90 {percentile(large, 90):6.1f} | "
                f"ratio {ml / ms:.2f} (target <= 1.5)"
            )
    finally:
        for srv in servers.values():
            srv.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database", choices=["pg", "sqlite", "both"], default="both")
    args = parser.parse_args()
    header(f"Listing at scale: {args.large} vs {args.small} tickets")
    if args.database in ("pg", "both"):
        urls = {
            "small": fresh_postgres(name="ticketing_bench_small"),
            "large": fresh_postgres(name="ticketing_bench_large"),
        }
        seed(urls["small"], args.small)
        seed(urls["large"], args.large)
        bench("PostgreSQL", urls, args.requests)
    if args.database in ("sqlite", "both"):
        urls = {"small": fresh_sqlite(), "large": fresh_sqlite()}
        seed(urls["small"], args.small)
        seed(urls["large"], args.large)
        bench("SQLite", urls, args.requests)


if __name__ == "__main__":
    main()
