"""Contended reservations over HTTP: C concurrent clients race for 50 tickets via
POST /api/orders, against GET /api/health on the same server at the same concurrency.

    .venv/bin/python bench/bench_http_reserve.py [--clients 50 200] [--rounds 2]
        [--database pg|sqlite]

Server: the granian process the API tests start (tests.support.spawn_server("api"): one
worker serving `ticketing_app.api:build_api`, the same FastAPI app `reflex run --env prod
--backend-only` mounts). Clients: aiohttp, one session (cookie jar) per signed-up buyer.
Each race lists 50 fresh tickets; every client tries 10 of them in its own random order, one
request after another, and keeps going after a win (a buyer may hold several tickets), so C
requests are in flight for the whole race, as in the health burst it is compared with. (Until
2026-11-25 19:40 UTC a client stopped at its first win, so the end of each race ran with
fewer and fewer clients and measured their latency chain rather than the rate at C clients.)
Checked: no ticket won twice, one order per reserved ticket (a ticket or two may stay
unsold). Reported per concurrency: attempts/s and p50/p99 latency, the same for
/api/health, and the rate ratio (target ≥ 0.5). Rounds alternate; the best round of each
is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from common import (
    PASSWORD,
    fresh_postgres,
    fresh_sqlite,
    header,
    percentile,
    seed_tickets,
    seed_users,
)

from tests.support import spawn_server, unique_email  # noqa: E402
from ticketing_app.db import dispose_engines, get_engine


async def signup(session: aiohttp.ClientSession, base: str) -> str:
    body = {"email": unique_email("hb"), "password": PASSWORD}
    async with session.post(f"{base}/api/users/signup", json=body) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["id"]


async def race(sessions, base: str, tickets: list[str], tries: int):
    latencies: list[float] = []
    wins: list[str] = []
    start_gate = asyncio.Event()

    async def client(session: aiohttp.ClientSession) -> None:
        order = random.sample(tickets, min(tries, len(tickets)))
        await start_gate.wait()
        for ticket_id in order:
            t0 = time.perf_counter()
            async with session.post(f"{base}/api/orders", json={"ticketId": ticket_id}) as r:
                await r.read()
                latencies.append(time.perf_counter() - t0)
                assert r.status in (201, 400), (r.status, await r.text())
                if r.status == 201:
                    wins.append(ticket_id)  # and keep going: C clients in flight throughout

    tasks = [asyncio.create_task(client(s)) for s in sessions]
    await asyncio.sleep(0.1)
    began = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    assert len(set(wins)) == len(wins), "a ticket won twice"
    return len(latencies) / elapsed, latencies


def check_orders(db_url: str, tickets: list[str]) -> None:
    """In the database too: at most one order per ticket, and a reserved ticket has it."""
    engine = get_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT t.status, count(o.id) FROM tickets t LEFT JOIN orders o "
                "ON o.ticket_id = t.id WHERE t.id IN :ids GROUP BY t.id, t.status"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": tickets},
        ).all()
    dispose_engines()
    assert all((s == "reserved" and n == 1) or (s == "available" and n == 0) for s, n in rows)


async def health_burst(sessions, base: str, per_client: int):
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        for _ in range(per_client):
            t0 = time.perf_counter()
            async with session.get(f"{base}/api/health") as r:
                await r.read()
                assert r.status == 200
            latencies.append(time.perf_counter() - t0)

    began = time.perf_counter()
    await asyncio.gather(*(client(s) for s in sessions))
    return len(latencies) / (time.perf_counter() - began), latencies


def buyer_sessions(n: int) -> list[aiohttp.ClientSession]:
    """One HTTP client per buyer: one connection each, its own cookie jar."""
    return [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(60),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # 127.0.0.1 is an IP host
        )
        for _ in range(n)
    ]


async def bench(base: str, db_url: str, concurrency: list[int], rounds: int, tries: int) -> None:
    engine = get_engine(db_url)
    (seller,) = seed_users(engine, 1, "seller")
    dispose_engines()
    top = max(concurrency)
    sessions = buyer_sessions(top)
    try:
        for i in range(0, top, 20):
            await asyncio.gather(*(signup(s, base) for s in sessions[i : i + 20]))
        for c in concurrency:
            best: dict[str, tuple[float, list[float]]] = {}
            for _ in range(rounds):
                engine = get_engine(db_url)
                tickets = seed_tickets(engine, seller, 50)
                dispose_engines()
                rate, lat = await race(sessions[:c], base, tickets, tries)
                check_orders(db_url, tickets)
                if rate > best.get("reserve", (0.0, []))[0]:
                    best["reserve"] = (rate, lat)
                per_client = max(1, round(len(lat) / c))
                rate, lat = await health_burst(sessions[:c], base, per_client)
                if rate > best.get("health", (0.0, []))[0]:
                    best["health"] = (rate, lat)
            for name, (rate, lat) in best.items():
                p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
                print(
                    f"  {c:4d} clients {name:8s}: {rate:7.0f} req/s  "
                    f"p50 {p50:6.1f} ms  p99 {p99:7.1f} ms"
                )
            ratio = best["reserve"][0] / best["health"][0]
            print(f"  {c:4d} clients reserve/health rate ratio {ratio:.2f} (target >= 0.5)")
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--database", choices=["pg", "sqlite"], default="pg")
    args = parser.parse_args()
    header("Contended reservations over HTTP (granian, 1 worker) vs GET /api/health")
    db_url = fresh_postgres() if args.database == "pg" else fresh_sqlite()
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    srv = spawn_server("api", {"DATABASE_URL": db_url}, log_path=workdir / "server.log")
    try:
        print(f"{'PostgreSQL' if args.database == 'pg' else 'SQLite'}:")
        asyncio.run(bench(srv.base_url, db_url, args.clients, args.rounds, args.tries))
    finally:
        srv.remove()


if __name__ == "__main__":
    main()
