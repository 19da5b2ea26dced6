"""Fixtures for the event relay: a unique JetStream stream per test on the shared NATS server
(so parallel runs never collide), a throwaway nats-server a test may stop and restart, a
consumer that reads back what JetStream stored, and worlds on both databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import Server, World, spawn_server
from tests.support.relay import StreamName, delete_stream, read_stream, unique_stream
from tests.support.servers import NATS_SERVER

TEST_NATS_URL = os.environ.get("TEST_NATS_URL")


@pytest.fixture
def nats_url() -> str:
    if not TEST_NATS_URL:
        pytest.skip("TEST_NATS_URL not set (CI sets it)")
    return TEST_NATS_URL


@pytest.fixture
def stream(nats_url: str) -> Iterator[StreamName]:
    """A stream name and subject prefix of our own, deleted afterwards."""
    s = unique_stream()
    yield s
    asyncio.run(delete_stream(nats_url, s.name))


@pytest.fixture
def throwaway_nats(tmp_path: Path) -> Iterator[Server]:
    """A nats-server -js of our own (not started yet), with a store that survives restarts."""
    if not os.path.exists(NATS_SERVER):
        pytest.skip("nats-server binary not installed")
    server = spawn_server("nats", store=tmp_path / "jetstream", start=False)
    yield server
    server.remove()


@pytest.fixture
def reader(nats_url: str):  # type: ignore[no-untyped-def]
    """`reader(stream, expect=N)`: what a fresh JetStream consumer of `stream` receives."""

    def read(s: StreamName, *, url: str | None = None, expect: int | None = None):  # type: ignore[no-untyped-def]
        return asyncio.run(read_stream(url or nats_url, s, expect=expect))

    return read


@pytest.fixture
def sqlite_world(sqlite_url: str, now: datetime) -> World:
    return World(sqlite_url, now=now)
