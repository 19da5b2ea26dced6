"""Every committed domain event, delivered on every backend worker's event loop.

`outbox.subscribe` only reaches handlers in the process that committed. With several workers a
browser may be connected to another worker than the one that made the change (or ran the
scheduler), and the scheduler's holder must see orders created elsewhere. So each worker:

1. hands its own committed events from the committing thread to its event loop
   (`loop.call_soon_threadsafe`), delivers them to its local listeners at once, and
2. publishes them on the Redis channel `ticketing:events` (when REDIS_URL is set);
3. delivers events published by other workers (its own are skipped by origin id).

Listeners run on the event loop and must not block: the live pusher enqueues, the expiry
scheduler adds an APScheduler job. Gap listeners run each time the Redis subscription is
established (again): events published while it was down are lost to this worker, so the read
model (`ticketing_app/readmodel.py`) starts over from the database. Pub/sub is at-most-once: a
message lost while Redis is down costs a live refresh, never correctness (the pages re-read on
load, the read model's seq check catches the gap within a second; the sweep still expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ticketing_app import outbox
from ticketing_app.outbox import Event

log = logging.getLogger(__name__)

CHANNEL = "ticketing:events"
Listener = Callable[[Event], None]


def encode(event: Event, origin: str) -> str:
    return json.dumps(
        {
            "origin": origin,
            "id": event.id,
            "type": event.type,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id,
            "aggregate_version": event.aggregate_version,
            "payload": event.payload,
            "created_at": event.created_at.isoformat(),
        }
    )


def decode(text: str | bytes) -> tuple[str, Event]:
    data: dict[str, Any] = json.loads(text)
    event = Event(
        id=data["id"],
        type=data["type"],
        aggregate_type=data["aggregate_type"],
        aggregate_id=data["aggregate_id"],
        aggregate_version=int(data["aggregate_version"]),
        payload=data["payload"],
        created_at=datetime.fromisoformat(data["created_at"]),
    )
    return str(data.get("origin", "")), event


class EventBus:
    """One per worker process; `run()` is its lifespan (it owns the outbox subscription)."""

    def __init__(self, redis_url: str | None = None, channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._listeners: list[Listener] = []
        self._gap_listeners: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outgoing: asyncio.Queue[Event] | None = None
        self.subscribed = asyncio.Event()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def add_gap_listener(self, listener: Callable[[], None]) -> None:
        """`listener()` whenever the Redis subscription is (re)established."""
        self._gap_listeners.append(listener)

    def _gap(self) -> None:
        for listener in list(self._gap_listeners):
            try:
                listener()
            except Exception:
                log.exception("event bus gap listener %r failed", listener)

    def _deliver(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed for %s", listener, event.type)

    def publish(self, event: Event) -> None:
        """Send a signal that is not an outbox event (live.UNREAD_CHANGED) the same way:
        this worker's listeners and, with Redis, every other worker's. Any thread."""
        self._on_commit(event)

    def _on_commit(self, event: Event) -> None:
        """Called in the committing thread: hand over to the loop, never block here."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            loop.call_soon_threadsafe(self._local, event)

    def _local(self, event: Event) -> None:
        self._deliver(event)
        if self._outgoing is not None:
            self._outgoing.put_nowait(event)

    async def run(self) -> None:
        """Subscribe to the outbox and (with Redis) bridge workers until cancelled."""
        self._loop = asyncio.get_running_loop()
        unsubscribe = outbox.subscribe(self._on_commit)
        tasks: list[asyncio.Task[None]] = []
        try:
            if self.redis_url:
                self._outgoing = asyncio.Queue()
                tasks.append(asyncio.create_task(self._publish_forever(), name="bus-publish"))
                tasks.append(asyncio.create_task(self._listen_forever(), name="bus-listen"))
            else:
                self.subscribed.set()
            await asyncio.Event().wait()
        finally:
            unsubscribe()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._loop = None

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        return aioredis.Redis.from_url(self.redis_url or "", health_check_interval=10)

    async def _publish_forever(self) -> None:
        assert self._outgoing is not None
        client = self._client()
        try:
            while True:
                event = await self._outgoing.get()
                try:
                    await client.publish(self.channel, encode(event, self.origin))
                except Exception:
                    log.warning("event bus: publish of %s failed", event.type, exc_info=True)
        finally:
            await client.aclose()

    async def _listen_forever(self) -> None:
        backoff = 0.2
        while True:
            client = self._client()
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._gap()  # whatever was published before this point never arrives
                    self.subscribed.set()
                    backoff = 0.2
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            origin, event = decode(message["data"])
                        except Exception:
                            log.warning("event bus: undecodable message", exc_info=True)
                            continue
                        if origin != self.origin:
                            self._deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event bus: Redis subscription lost; retrying", exc_info=True)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
