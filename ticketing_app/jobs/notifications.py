"""The notifications job (SPEC §11): outbox -> deliveries -> email, beside the outbox relay.

One active notifier across workers, chosen by the "notifications" lease (ticketing_app.lease).
While it holds the lease it loops: plan the committed events after its durable position
(services/notifications.consume: one transaction per batch), then send the due deliveries.
All database and SMTP work runs in a worker thread (`asyncio.to_thread`), never in a request
and never with a transaction open while talking to the SMTP server.

Guarantees (docs/notifications.md):
- Every committed event is planned exactly once (the position moves in the transaction that
  inserts its deliveries; the unique (event, recipient, template) row absorbs any replay).
- A delivery is marked sent only after the server accepted it; while SMTP is down it is retried
  with capped exponential back-off (0.5 s … 30 s) and nothing is lost across restarts.
- SMTP has no idempotency key: a crash after the server accepted a message and before
  `mark_sent` committed sends that one message again on restart. A message recorded as sent is
  never sent again. Two notifiers during a lease overlap could likewise send one twice.

Where the events come from: without NATS_URL, the embedded outbox reader (its position in
`consumer_positions`); with NATS_URL, a durable JetStream consumer of the relay's stream
(`notifications_stream.StreamConsumer`: acked after the delivery rows commit). Sending is the
same in both modes; if NATS is unreachable, what is already planned is still sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import sqlalchemy as sa

from ticketing_app import outbox
from ticketing_app.db import get_engine, normalize_url
from ticketing_app.jobs.notifications_stream import StreamConsumer
from ticketing_app.lease import Lease, make_lease
from ticketing_app.mail import PermanentFailure, Transport, transport_from_settings
from ticketing_app.models import utcnow
from ticketing_app.services import notifications as svc
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

LEASE_NAME = "notifications"


class Notifier:
    def __init__(
        self,
        *,
        database_url: str | None = None,
        transport: Callable[[], Transport] | None = None,
        lease: Lease | None = None,
        poll_interval: float = 1.0,
        batch_size: int = 100,
        consumer: str = svc.CONSUMER,
        stream: StreamConsumer | None = None,
    ) -> None:
        """`stream`: read the events from JetStream (with NATS_URL) instead of the outbox."""
        self.database_url = normalize_url(database_url or get_settings().database_url)
        self.transport_factory = transport or transport_from_settings
        self.lease = lease or make_lease(LEASE_NAME, 10.0, database_url=self.database_url)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.consumer = consumer
        self.stream = stream
        self.sent = 0
        self.active = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def engine(self) -> sa.Engine:
        return get_engine(self.database_url)

    # -- synchronous steps (worker thread) ----------------------------------------------------
    def consume_all(self) -> int:
        """Plan every committed event readable now; returns the deliveries made."""
        made = 0
        while True:
            read, inserted = svc.consume(
                self.engine, now=utcnow(), name=self.consumer, batch_size=self.batch_size
            )
            made += inserted
            if read < self.batch_size:
                return made

    def send_due(self) -> int:
        """Send the deliveries due now over one transport connection; returns how many were
        sent. A connection failure defers every delivery of the batch (back-off each)."""
        batch = svc.due(self.engine, now=utcnow())
        if not batch:
            return 0
        sent = 0
        transport = self.transport_factory()
        with transport:
            for index, delivery in enumerate(batch):
                ctx = svc.prepare(self.engine, delivery, now=utcnow())
                if ctx is None:
                    continue
                try:
                    message = svc.render(delivery, ctx)
                except Exception as exc:  # a template bug: retrying will not fix it
                    log.exception("cannot render delivery %s", delivery.id)
                    svc.mark_failed(self.engine, delivery, f"render: {exc}", now=utcnow())
                    continue
                try:
                    transport.send(message, key=delivery.id)
                except PermanentFailure as exc:
                    log.warning("delivery %s refused for good: %s", delivery.id, exc)
                    svc.mark_failed(self.engine, delivery, str(exc), now=utcnow())
                    continue
                except Exception as exc:  # SMTP down, timeout, 4xx: later, with back-off
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("delivery %s not sent (%s); will retry", delivery.id, error)
                    # The rest of the batch waits too: a server that is down (or hangs until
                    # the timeout) is not tried once per message.
                    for waiting in batch[index:]:
                        svc.mark_retry(self.engine, waiting, error, now=utcnow())
                    break
                svc.mark_sent(self.engine, delivery.id, now=utcnow(), ctx=ctx)
                sent += 1
        self.sent += sent
        return sent

    def run_once(self) -> tuple[int, int]:
        """One pass: plan, then send; returns (deliveries made, sent)."""
        return self.consume_all(), self.send_due()

    async def run_pass(self) -> tuple[int, int]:
        """One pass from whichever source: (deliveries made, sent). With JetStream, a failure
        to read the stream is logged and what is already planned is still sent."""
        if self.stream is None:
            return await asyncio.to_thread(self.run_once)
        made = 0
        try:
            _handled, made = await self.stream.consume_available(self.engine)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("notifications: reading JetStream failed (%s); will retry", exc)
            await self.stream.close()  # reconnect at the next pass
        return made, await asyncio.to_thread(self.send_due)

    # -- the loop -----------------------------------------------------------------------------
    def _on_commit(self, _event: outbox.Event) -> None:
        """Runs in the committing thread: nudge the loop."""
        self.wake()

    def wake(self) -> None:
        """Nudge the loop (a password reset was queued in this process, outside the outbox)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, seconds))

    async def _next_wait(self) -> float:
        nxt = await asyncio.to_thread(svc.next_due_at, self.engine)
        if nxt is None:
            return self.poll_interval
        return min(self.poll_interval, max(0.0, (nxt - utcnow()).total_seconds()))

    async def run(self) -> None:
        """Run until cancelled: stand by for the lease, then notify; errors retried."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        unsubscribe = outbox.subscribe(self._on_commit)
        unqueue = svc.on_queued(self.wake)
        backoff = 0.2
        renewed = 0.0
        try:
            while True:
                if not self.active:
                    if not await asyncio.to_thread(self.lease.try_acquire):
                        await asyncio.sleep(self.lease.renew_interval)
                        continue
                    self.active, renewed = True, time.monotonic()
                    log.info("notifications active (%s)", self.database_url.split("@")[-1])
                elif time.monotonic() - renewed >= self.lease.renew_interval:
                    if not await asyncio.to_thread(self.lease.renew):
                        log.warning("notifications lost the lease; standing by")
                        self.active = False
                        continue
                    renewed = time.monotonic()
                self._wake.clear()
                try:
                    await self.run_pass()
                    backoff = 0.2
                    wait = await self._next_wait()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database unavailable: retry later
                    log.warning("notifications pass failed (%s); retrying", exc)
                    wait, backoff = backoff, min(backoff * 2, svc.MAX_BACKOFF_SECONDS)
                await self._sleep(min(wait, self.lease.renew_interval))
        finally:
            unsubscribe()
            unqueue()
            self.active = False
            if self.stream is not None:
                await self.stream.close()
            await asyncio.to_thread(self.lease.release)


async def run_notifications() -> None:
    """Reflex lifespan task: the notifications consumer and sender (every mode; with NATS_URL
    the events come from the durable JetStream consumer)."""
    from ticketing_app.mail import describe_destination

    log.info("emails go to %s", describe_destination())
    await Notifier(stream=StreamConsumer.from_settings()).run()
