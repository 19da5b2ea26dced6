"""The outbox relay under test, and what JetStream stored: a stream of our own per test,
`drain()` (run a relay until the outbox has nothing unpublished), `read_stream()` (what a fresh
consumer receives, waiting for `expect` messages)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tests.support.waiting import wait_until_async
from ticketing_app.outbox import store
from ticketing_app.outbox.relay import Relay


@dataclass(frozen=True)
class StreamName:
    name: str
    prefix: str


def unique_stream() -> StreamName:
    """A stream name and subject prefix nobody else uses (parallel runs share one NATS)."""
    tag = uuid.uuid4().hex[:12]
    return StreamName(name=f"TEST_{tag.upper()}", prefix=f"t{tag}")


async def delete_stream(url: str, name: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


class WatchedRelay(Relay):
    """The real relay, counting the passes it has finished (each publishes whatever was
    unpublished), so that a test can wait until one is over."""

    passes = 0

    async def publish_pending(self) -> int:
        published = await super().publish_pending()
        self.passes += 1
        return published


def make_relay(db_url: str, nats_url: str, stream: StreamName, **kw: Any) -> WatchedRelay:
    """A relay of `db_url`'s outbox to `stream` (polling every 0.2 s unless told)."""
    kw.setdefault("poll_interval", 0.2)
    return WatchedRelay(
        database_url=db_url,
        nats_url=nats_url,
        stream=stream.name,
        subject_prefix=stream.prefix,
        **kw,
    )


async def stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def outbox_drained(db_url: str, timeout: float = 15.0, what: str = "outbox drained") -> float:
    """Wait until no row of `db_url`'s outbox is unpublished; returns the seconds it took."""
    return await wait_until_async(
        lambda: store.count_unpublished(db_url) == 0, timeout, what, in_thread=True
    )


def drain(relay: Relay, db_url: str, timeout: float = 15.0) -> None:
    """Run `relay` until it has published (and stamped) everything in the outbox, then stop it."""

    async def go() -> None:
        task = asyncio.create_task(relay.run())
        try:
            await outbox_drained(db_url, timeout)
        finally:
            await stop_task(task)

    asyncio.run(go())


async def read_stream(
    url: str, stream: StreamName, *, expect: int | None = None, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Everything stored in the stream, as a fresh consumer receives it (envelopes, in order),
    each with its headers under "_headers" and its subject under "_subject". With `expect`,
    keeps fetching until that many arrived (or `timeout`)."""
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
