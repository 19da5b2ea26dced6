"""Fixtures for the event relay: a unique JetStream stream per test on the shared NATS server
(so parallel runs never collide), a throwaway nats-server a test may stop and restart, and a
consumer that reads back what JetStream stored."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ticketing_app.db import session_factory
from ticketing_app.services import auth, orders, tickets

TEST_NATS_URL = os.environ.get("TEST_NATS_URL")

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


@pytest.fixture
def nats_url() -> str:
    if not TEST_NATS_URL:
        pytest.skip("TEST_NATS_URL not set (CI sets it)")
    return TEST_NATS_URL


@dataclass(frozen=True)
class StreamName:
    name: str
    prefix: str


def unique_stream() -> StreamName:
    tag = uuid.uuid4().hex[:12]
    return StreamName(name=f"TEST_{tag.upper()}", prefix=f"t{tag}")


async def delete_stream(url: str, name: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        await nc.jetstream().delete_stream(name)
    except Exception:
        pass
    finally:
        await nc.close()


@pytest.fixture
def stream(nats_url: str) -> Iterator[StreamName]:
    """A stream name and subject prefix of our own, deleted afterwards."""
    s = unique_stream()
    yield s
    asyncio.run(delete_stream(nats_url, s.name))


async def read_stream(
    url: str, stream: StreamName, *, expect: int | None = None, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Everything stored in the stream, as a fresh consumer receives it (envelopes, in order),
    each with its headers under "_headers" and its subject under "_subject"."""
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"{stream.prefix}.>",
            durable=None,
            stream=stream.name,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
        )
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                if expect is None or len(out) >= expect:
                    break
                continue
            for msg in msgs:
                body = json.loads(msg.data)
                body["_headers"] = dict(msg.headers or {})
                body["_subject"] = msg.subject
                out.append(body)
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayNats:
    """A nats-server -js of our own on a free port, with a store that survives restarts."""

    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.store = store
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def throwaway_nats(tmp_path: Path) -> Iterator[ThrowawayNats]:
    if not os.path.exists(NATS_SERVER):
        pytest.skip("nats-server binary not installed")
    server = ThrowawayNats(tmp_path / "jetstream")
    yield server
    server.stop()


class Market:
    """User-visible actions through the real services, one fresh session per call."""

    def __init__(self, url: str, now: datetime) -> None:
        self.factory = session_factory(url)
        self.now = now
        self._n = 0

    def signup(self) -> str:
        self._n += 1
        with self.factory() as db:
            user, _ = auth.signup(
                db,
                email=f"user{self._n}-{uuid.uuid4().hex[:6]}@example.com",
                password="password1",
                now=self.now,
            )
        return user.id

    def list_ticket(self, seller: str, title: str = "Gig", price: Any = 20) -> str:
        with self.factory() as db:
            return tickets.create_ticket(
                db, seller_id=seller, title=title, price=price, now=self.now
            ).id

    def edit(self, seller: str, ticket: str, title: str = "Gig (edited)", price: Any = 25) -> None:
        with self.factory() as db:
            tickets.update_ticket(
                db, user_id=seller, ticket_id=ticket, title=title, price=price, now=self.now
            )

    def cancel_listing(self, seller: str, ticket: str) -> None:
        with self.factory() as db:
            tickets.cancel_ticket(db, user_id=seller, ticket_id=ticket, now=self.now)

    def reserve(self, buyer: str, ticket: str) -> str:
        with self.factory() as db:
            return orders.reserve_ticket(
                db.get_bind(), buyer_id=buyer, ticket_id=ticket, now=self.now
            ).order.id

    def cancel_order(self, buyer: str, order: str) -> None:
        with self.factory() as db:
            orders.cancel_order(db, user_id=buyer, order_id=order, now=self.now)

    def expire_all(self) -> list[str]:
        with self.factory() as db:
            return orders.expire_due_orders(db, now=self.now + timedelta(days=1))

    def busy_day(self) -> int:
        """A bit of everything; returns how many events it wrote."""
        seller, buyer, next_buyer = self.signup(), self.signup(), self.signup()
        t1 = self.list_ticket(seller, "Opera")
        self.edit(seller, t1)
        o1 = self.reserve(buyer, t1)
        self.cancel_order(buyer, o1)
        self.reserve(next_buyer, t1)  # the first buyer is in its re-reserve cooldown
        self.expire_all()
        t2 = self.list_ticket(seller, "Jazz")
        self.cancel_listing(seller, t2)
        # 3 users + created, edited + (order, ticket) x 4 + created, cancelled
        return 3 + 2 + 8 + 2


@pytest.fixture
def market(db_url: str, now: datetime) -> Market:
    return Market(db_url, now)


@pytest.fixture
def reader(nats_url: str):  # type: ignore[no-untyped-def]
    """`reader(stream, expect=N)`: what a fresh JetStream consumer of `stream` receives."""

    def read(s: StreamName, *, url: str | None = None, expect: int | None = None):  # type: ignore[no-untyped-def]
        return asyncio.run(read_stream(url or nats_url, s, expect=expect))

    return read


@pytest.fixture
def sqlite_market(sqlite_url: str, now: datetime) -> Market:
    return Market(sqlite_url, now)
