"""Soak with faults: 100 simulated users against the prod-mode backend (PostgreSQL + Redis)
for ~2 minutes, while PostgreSQL drops out for 10 s, Redis stops for 10 s and the backend is
restarted. Afterwards the marketplace's invariants must hold (SPEC §3, §5).

Users browse, search, reserve, pay (localstripe; pm_card_visa / pm_card_chargeCustomerFail),
cancel, or walk away and let the hold expire (TICKETING_LOCK_SECONDS=6). Outside the fault
windows every answer must be non-5xx; inside the database window only the 503 error shape.

Duration: TICKETING_SOAK_SECONDS (default 120); the fault times scale with it.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import stripe
from invariants import check_invariants
from load_helpers import PgProxy, RedisServer
from sqlalchemy.engine import make_url

from tests.db_helpers import fresh_postgres
from tests.support import Server, spawn_server
from tests.support.servers import NO_LISTING_LIMITS
from tests.support.stripe import start_localstripe

pytestmark = pytest.mark.slow

DB_NAME = "ticketing_load"
USERS = 100
SELLERS = 20
LOCK_SECONDS = 6
PASSWORD = "correct horse battery"
SECRET_KEY = "sk_test_load_tests"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
SOAK_SECONDS = float(os.environ.get("TICKETING_SOAK_SECONDS", "120"))
ERROR_503_KEYS = {"errors"}


@dataclass
class Stack:
    backend: Server
    proxy: PgProxy
    redis: RedisServer
    db_url: str  # direct, for the invariant checks (not through the proxy)
    stripe_base: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set (CI sets it)")
    db_url = fresh_postgres(DB_NAME)
    proxy = PgProxy()
    proxy.start()
    # Our own redis-server, which we may stop; without the binary (a CI image with only a Redis
    # service), the given TEST_REDIS_URL's server on DB 7, and the Redis fault is left out.
    redis = RedisServer(None if shutil.which("redis-server") else TEST_REDIS_URL)
    if not redis.stoppable and not TEST_REDIS_URL:
        pytest.skip("neither redis-server nor TEST_REDIS_URL available")
    redis.start()
    directory: Path = tmp_path_factory.mktemp("load")
    localstripe = start_localstripe(directory)
    stripe_base = localstripe.base_url
    via_proxy = make_url(db_url).set(port=proxy.port).render_as_string(hide_password=False)
    backend = spawn_server(
        "backend",
        {
            **NO_LISTING_LIMITS,
            "DATABASE_URL": via_proxy,
            "REDIS_URL": redis.url,
            "STRIPE_API_BASE": stripe_base,
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "TICKETING_LOCK_SECONDS": str(LOCK_SECONDS),
            # The PostgreSQL server is shared (100 connections in all): stay well inside it.
            "TICKETING_DB_POOL_SIZE": "8",
            "TICKETING_DB_MAX_OVERFLOW": "0",
        },
        log_path=directory / "backend.log",  # outside its workdir: kept for a post-mortem
        start=False,
    )
    try:
        backend.start()
        yield Stack(backend, proxy, redis, db_url, stripe_base)
    finally:
        backend.remove()
        localstripe.stop()
        redis.remove()
        proxy.stop()


@dataclass
class Record:
    """Everything the users saw, with the fault windows to judge it against."""

    started: float = field(default_factory=time.monotonic)
    statuses: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # 5xx / transport errors outside windows
    db_window_503: int = 0
    orders: set[str] = field(default_factory=set)  # every order id a 201 gave us
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    health: list[tuple[float, int, dict]] = field(default_factory=list)
    restart_wall: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> float:
        return time.monotonic() - self.started

    def in_window(self, name: str, t: tuple[float, float], grace: float = 3.0) -> bool:
        """Did the request (sent at t[0], answered at t[1]) overlap the fault window?"""
        start, end = self.windows.get(name, (float("inf"), float("inf")))
        return t[1] >= start and t[0] <= end + grace

    def note(
        self, t: tuple[float, float], what: str, r: httpx.Response | None, exc: Exception | None
    ) -> None:
        if exc is not None:
            self.statuses["transport error"] += 1
            if not self.in_window("restart", t) and not self.in_window("db", t):
                self.bad.append(f"{t[0]:.1f}-{t[1]:.1f}s {what}: {exc!r}")
            return
        assert r is not None
        self.statuses[str(r.status_code)] += 1
        if r.status_code < 500:
            return
        if r.status_code == 503 and r.headers.get("content-type", "").startswith(
            "application/json"
        ):
            body = r.json()
            shaped = set(body) == ERROR_503_KEYS and body["errors"][0]["field"] is None
            if shaped and (self.in_window("db", t) or self.in_window("restart", t)):
                self.db_window_503 += self.in_window("db", t)
                return
        self.bad.append(f"{t[0]:.1f}-{t[1]:.1f}s {what}: {r.status_code} {r.text[:200]}")


async def call(rec: Record, client: httpx.AsyncClient, method: str, url: str, **kw):
    sent = rec.now()
    try:
        r = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        rec.note((sent, rec.now()), f"{method} {url}", None, exc)
        return None
    rec.note((sent, rec.now()), f"{method} {url}", r, None)
    return r


async def user_loop(rec: Record, client: httpx.AsyncClient, me: str, stop: float) -> None:
    rng = random.Random(me)
    while rec.now() < stop:
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        params = {"limit": "20", "sort": rng.choice(["newest", "price_asc"])}
        if rng.random() < 0.2:
            params["q"] = rng.choice(["gig", "festival", "night"])
        r = await call(rec, client, "GET", "/api/tickets", params=params)
        if r is None or r.status_code != 200:
            continue
        mine = [t for t in r.json() if t["userId"] == me]
        others = [t for t in r.json() if t["userId"] != me]
        if len(mine) < 2 and rng.random() < 0.3:  # sellers keep the market stocked
            title = f"{rng.choice(['gig', 'festival', 'night'])} {uuid.uuid4().hex[:6]}"
            await call(rec, client, "POST", "/api/tickets",
                       json={"title": title, "price": rng.randint(5, 200)})  # fmt: skip
        if not others:
            continue
        r = await call(
            rec, client, "POST", "/api/orders", json={"ticketId": rng.choice(others)["id"]}
        )
        if r is None or r.status_code != 201:
            continue
        order = r.json()
        rec.orders.add(order["id"])
        await asyncio.sleep(rng.uniform(0.1, 0.5))
        roll = rng.random()
        if roll < 0.4:
            token = "pm_card_visa"
        elif roll < 0.5:
            token = "pm_card_chargeCustomerFail"
        elif roll < 0.7:
            await call(rec, client, "DELETE", f"/api/orders/{order['id']}")
            continue
        else:
            continue  # walk away: the hold expires
        await call(
            rec, client, "POST", "/api/payments", json={"orderId": order["id"], "token": token}
        )


async def monitor(rec: Record, base: str, stop: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while rec.now() < stop + 5:
            t = rec.now()
            try:
                r = await client.get("/api/health")
                rec.health.append((t, r.status_code, r.json()))
            except httpx.HTTPError as exc:
                rec.health.append((t, 0, {"error": repr(exc)}))
            await asyncio.sleep(0.5)


async def faults(rec: Record, stack: Stack, stop: float) -> None:
    """PostgreSQL out at 12%, Redis out at 35%, backend restart at 58% of the soak."""

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, fraction * stop - rec.now()))

    await at(0.12)
    start = rec.now()
    rec.windows["db"] = (start, float("inf"))
    stack.proxy.cut()
    await asyncio.sleep(10)
    stack.proxy.restore()
    rec.windows["db"] = (start, rec.now())
    await at(0.35)
    if stack.redis.stoppable:
        start = rec.now()
        rec.windows["redis"] = (start, float("inf"))
        await asyncio.to_thread(stack.redis.stop)
        await asyncio.sleep(10)
        await asyncio.to_thread(stack.redis.start)
        rec.windows["redis"] = (start, rec.now())
    await at(0.58)
    start = rec.now()
    rec.windows["restart"] = (start, float("inf"))
    await asyncio.to_thread(stack.backend.stop)
    await asyncio.to_thread(stack.backend.start)
    rec.windows["restart"] = (start, rec.now())
    rec.restart_wall = datetime.now(UTC)


async def soak(stack: Stack) -> Record:
    rec = Record()
    base = stack.backend.url
    limits = httpx.Limits(max_connections=4)
    clients = [httpx.AsyncClient(base_url=base, timeout=30, limits=limits) for _ in range(USERS)]
    try:
        ids = []
        for i in range(0, USERS, 10):
            batch = await asyncio.gather(*(
                c.post("/api/users/signup",
                       json={"email": f"load-{uuid.uuid4().hex[:10]}@example.com",
                             "password": PASSWORD})
                for c in clients[i : i + 10]
            ))  # fmt: skip
            assert all(r.status_code == 201 for r in batch), [r.text for r in batch]
            ids += [r.json()["id"] for r in batch]
        for c in clients[:SELLERS]:
            for n in range(5):
                r = await c.post("/api/tickets", json={"title": f"night {n}", "price": 20 + n})
                assert r.status_code == 201, r.text
        rec.started = time.monotonic()
        await asyncio.gather(
            *(user_loop(rec, c, me, SOAK_SECONDS) for c, me in zip(clients, ids, strict=True)),
            monitor(rec, base, SOAK_SECONDS),
            faults(rec, stack, SOAK_SECONDS),
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return rec


def test_soak_with_faults(stack: Stack) -> None:
    rec = asyncio.run(soak(stack))
    print(f"\nsoak {SOAK_SECONDS:.0f}s: {dict(rec.statuses)}; orders {len(rec.orders)}; "
          f"windows {rec.windows}")  # fmt: skip
    print("backend log:", stack.backend.log_path)
    assert not rec.bad, "5xx or errors outside the fault windows:\n" + "\n".join(rec.bad[:30])
    assert rec.statuses["201"] > 200 and len(rec.orders) > 50, rec.statuses  # real traffic

    # The faults were felt and reported clearly, and the service recovered from each.
    def health_in(start: float, end: float) -> list[tuple[int, dict]]:
        return [(s, b) for t, s, b in rec.health if start <= t <= end]

    db_start, db_end = rec.windows["db"]
    assert rec.db_window_503 > 0, "no request saw the database outage"
    assert any(s == 503 and b.get("db") is False for s, b in health_in(db_start + 1, db_end))
    assert any(s == 200 for s, _ in health_in(db_end, db_end + 5)), rec.health
    if stack.redis.stoppable:
        rs, re_ = rec.windows["redis"]
        assert any(s == 503 and b.get("redis") is False for s, b in health_in(rs + 1, re_))
        assert any(s == 200 for s, _ in health_in(re_, re_ + 10)), "Redis outage not recovered"
    else:
        print("redis-server not installed: the Redis fault was not exercised")
    restart_end = rec.windows["restart"][1]
    assert any(s == 200 for s, _ in health_in(restart_end, restart_end + 5))

    # Let every hold fall due, then judge the database (directly, not through the proxy).
    time.sleep(LOCK_SECONDS + 3)
    intents = check_invariants(stack.db_url, rec.orders, rec.restart_wall)
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stack.stripe_base})
    for intent_id in intents:  # what we recorded as paid, Stripe (localstripe) agrees with
        assert client.v1.payment_intents.retrieve(intent_id).status == "succeeded"
