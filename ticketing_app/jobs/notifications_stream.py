"""The notifications consumer's JetStream source (SPEC §11, with NATS_URL): a durable pull
consumer of the relay's stream instead of the embedded outbox reader.

- **Durable**: the consumer (`notifications` on the stream `NATS_STREAM`, subjects
  `<prefix>.>`) lives in JetStream, which keeps its position: a restarted notifier resumes
  after the last message it acknowledged, on any worker.
- **Explicit ack after commit**: a fetched batch is planned in one database transaction
  (`services/notifications.plan_events`, the outbox reader's own planning); only once that
  transaction has committed are the messages acknowledged (and the acks flushed to the
  server). A crash in between leaves them unacknowledged: JetStream delivers them again after
  `ack_wait`, and the unique (event, recipient, template) delivery rows and (event, user,
  kind) notification rows make the second planning create nothing.
- **Old events are not planned again**: an event older than the shortest non-zero delivery
  or notification retention may have had its rows pruned (docs/notifications.md, Pruning), so a
  redelivery of one (a durable re-created from the start of a long stream) is acknowledged
  without planning rather than sending its emails twice.

The message body is the relay's envelope (`outbox/stream.py`): `{id, seq, type, ...,
occurredAt, data}`; `id` is the domain event id (also the `Nats-Msg-Id` header), the key of the
unique rows, so a message the relay published twice is absorbed too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ticketing_app.models import utcnow
from ticketing_app.outbox.stream import connect, ensure_stream
from ticketing_app.services import notifications as svc
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

DURABLE = "notifications"


@dataclass(frozen=True)
class StreamEvent:
    """A domain event as `plan_events` reads it (the outbox row's fields it uses)."""

    id: str
    type: str
    payload: str  # the event's JSON payload text
    created_at: datetime


def decode(data: bytes) -> StreamEvent:
    body: dict[str, Any] = json.loads(data)
    return StreamEvent(
        id=str(body["id"]),
        type=str(body["type"]),
        payload=json.dumps(body["data"]),
        created_at=datetime.fromisoformat(str(body["occurredAt"]).replace("Z", "+00:00")),
    )


def replay_horizon(now: datetime) -> datetime | None:
    """Events created before this are not planned (their rows may have been pruned)."""
    settings = get_settings()
    days = [
        d
        for d in (
            settings.ticketing_delivery_retention_days,
            settings.ticketing_notification_retention_days,
        )
        if d
    ]
    return now - timedelta(days=min(days)) if days else None


class StreamConsumer:
    """One connection and one durable pull subscription; `consume_available` is a pass."""

    def __init__(
        self,
        *,
        nats_url: str,
        stream: str,
        subject_prefix: str,
        durable: str = DURABLE,
        batch_size: int = 100,
        ack_wait: float = 30.0,
        first_wait: float = 0.25,
    ) -> None:
        self.nats_url = nats_url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.durable = durable
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.first_wait = first_wait
        self.planned = 0  # messages planned and acknowledged by this consumer
        self._nc: Client | None = None
        self._sub: Any = None

    @classmethod
    def from_settings(cls) -> StreamConsumer | None:
        settings = get_settings()
        if not settings.nats_url:
            return None
        return cls(
            nats_url=settings.nats_url,
            stream=settings.nats_stream,
            subject_prefix=settings.nats_subject_prefix,
        )

    async def start(self) -> None:
        if self._nc is not None and self._nc.is_connected:
            return
        await self.close()
        nc = await connect(self.nats_url, name="ticketing-notifications")
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.stream, self.subject_prefix)
            self._sub = await js.pull_subscribe(
                f"{self.subject_prefix}.>",
                durable=self.durable,
                stream=self.stream,
                config=ConsumerConfig(
                    durable_name=self.durable,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,  # at creation; then its own position
                    ack_wait=self.ack_wait,
                    max_ack_pending=max(1000, 2 * self.batch_size),
                ),
            )
        except BaseException:
            await nc.close()
            raise
        self._nc = nc
        log.info("notifications read JetStream %s (durable %s)", self.stream, self.durable)

    async def close(self) -> None:
        nc, self._nc, self._sub = self._nc, None, None
        if nc is not None:
            try:
                await nc.close()
            except Exception:  # already gone
                log.debug("nats close failed", exc_info=True)

    # -- one pass ---------------------------------------------------------------------------
    def _plan(self, engine: sa.Engine, msgs: list[Any]) -> int:
        """Plan the batch in ONE transaction (worker thread); returns deliveries inserted."""
        now = utcnow()
        horizon = replay_horizon(now)
        events: list[StreamEvent] = []
        for msg in msgs:
            try:
                event = decode(msg.data)
            except (ValueError, KeyError, TypeError):
                log.warning("notifications: undecodable message on %s skipped", msg.subject)
                continue
            if horizon is not None and event.created_at < horizon:
                continue
            events.append(event)
        if not events:
            return 0
        with engine.begin() as conn:
            return svc.plan_events(conn, events, now)

    async def _ack(self, msgs: list[Any]) -> None:
        """Acknowledge a committed batch, and make sure the server has the acks."""
        for msg in msgs:
            await msg.ack()
        assert self._nc is not None
        await self._nc.flush()

    async def consume_available(self, engine: sa.Engine) -> tuple[int, int]:
        """Fetch, plan, commit, then ack, batch after batch until the consumer is caught up;
        returns (messages handled, deliveries made)."""
        await self.start()
        handled = made = 0
        wait = self.first_wait
        while True:
            try:
                msgs = await self._sub.fetch(self.batch_size, timeout=wait)
            except TimeoutError:  # nothing more to read now (nats' TimeoutError is one)
                break
            made += await asyncio.to_thread(self._plan, engine, msgs)
            await self._ack(msgs)  # only after the transaction committed
            handled += len(msgs)
            self.planned += len(msgs)
            if len(msgs) < self.batch_size:
                break
            wait = 0.05
        return handled, made
