"""The outbox relay: publishes committed, unpublished outbox rows to JetStream, in `seq` order.

At-least-once, duplicates dropped by JetStream:
- A pass reads the oldest rows with `published_at IS NULL`, publishes them pipelined on one
  connection (so the stream stores them in that order), waits for every ack, then stamps
  `published_at` on the acked rows. A row is stamped only after JetStream acked it.
- If NATS is unreachable the pass fails, nothing is stamped, and the relay retries with backoff;
  the app is unaffected (events wait in the outbox) and the backlog drains when NATS returns.
- If the relay dies between publish and stamp, the next relay re-publishes those rows with the
  same `Nats-Msg-Id` (the event id) and JetStream discards them as duplicates.
- One relay is active across workers, chosen by a lease (ticketing_app.lease). Two active at
  once (a lease overlap) only cost duplicate publishes, which JetStream drops as above.
It wakes on the in-process after-commit hook (outbox.subscribe) and polls every `poll_interval`
seconds for commits made by other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from nats.aio.client import Client

from ticketing_app import outbox
from ticketing_app.db import normalize_url
from ticketing_app.lease import Lease, make_lease
from ticketing_app.outbox import store
from ticketing_app.outbox.stream import EVENT_TYPE_HEADER, MSG_ID, connect, encode, ensure_stream
from ticketing_app.outbox.stream import subject as subject_for
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

LEASE_NAME = "outbox-relay"


class LeaseLost(Exception):
    """Another relay holds the lease now: stop publishing and stand by."""


class Relay:
    """Publishes the outbox of `database_url` to stream `stream` on `nats_url`."""

    def __init__(
        self,
        *,
        database_url: str,
        nats_url: str,
        stream: str = "TICKETING",
        subject_prefix: str = "ticketing",
        lease: Lease | None = None,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        ack_timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.database_url = normalize_url(database_url)
        self.nats_url = nats_url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.lease = (
            lease
            if lease is not None
            else make_lease(f"{LEASE_NAME}:{stream}", 10.0, database_url=self.database_url)
        )
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.max_backoff = max_backoff
        self.published = 0  # events acked by JetStream and stamped, by this relay
        self.active = False  # holds the lease and is connected
        self._nc: Client | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._renewed = 0.0

    # -- wake-up after commits -------------------------------------------------------------
    def _on_commit(self, _event: outbox.Event) -> None:
        """Runs in the committing thread: nudge the relay's loop."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop shutting down
                loop.call_soon_threadsafe(wake.set)

    async def _sleep_or_wake(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    # -- one pass ----------------------------------------------------------------------------
    async def publish_batch(self, after_seq: int = 0) -> tuple[int, list[int]]:
        """Publish up to `batch_size` unpublished rows after `after_seq` and wait for their
        acks; returns (rows read, seqs JetStream acknowledged — not yet stamped).
        Raises if NATS acknowledged none of them (unavailable)."""
        assert self._nc is not None
        rows = await asyncio.to_thread(
            store.fetch_unpublished, self.database_url, limit=self.batch_size, after_seq=after_seq
        )
        if not rows:
            return 0, []
        js = self._nc.jetstream()
        futures = []
        for row in rows:
            futures.append(
                await js.publish_async(
                    subject_for(self.subject_prefix, row.aggregate_type, row.type),
                    encode(row),
                    headers={MSG_ID: row.id, EVENT_TYPE_HEADER: row.type},
                )
            )
        # One deadline for the whole batch (not per message): NATS down must not cost N timeouts.
        done, pending = await asyncio.wait(futures, timeout=self.ack_timeout)
        for future in pending:
            future.cancel()
        acked: list[int] = []
        failure: BaseException | None = None
        for row, future in zip(rows, futures, strict=True):
            if future in done and future.exception() is None:
                acked.append(row.seq or 0)
            elif future in done:  # not acked: stays unpublished, retried next pass
                failure = failure or future.exception()
        if not acked:
            raise failure or TimeoutError(f"no JetStream ack within {self.ack_timeout}s")
        return len(rows), acked

    async def mark_published(self, seqs: list[int]) -> int:
        now = datetime.now(UTC)
        await asyncio.to_thread(store.mark_published, self.database_url, seqs, now=now)
        self.published += len(seqs)
        return len(seqs)

    async def publish_pending(self) -> int:
        """Publish and stamp everything unpublished right now; returns how many were stamped.
        Stamping a batch overlaps with reading and publishing the next one."""
        total, after = 0, 0
        marking: asyncio.Task[int] | None = None
        try:
            while True:
                fetched, acked = await self.publish_batch(after)
                if marking is not None:
                    total += await marking
                    marking = None
                if acked:
                    marking = asyncio.create_task(self.mark_published(acked))
                if fetched < self.batch_size or len(acked) < fetched:
                    break  # caught up, or some were not acked: retry them next pass
                after = acked[-1]
                if not await self._keep_lease():  # a long backlog must not outlive the lease
                    raise LeaseLost
        finally:
            if marking is not None:
                total += await marking
        return total

    # -- the loop ----------------------------------------------------------------------------
    async def _serve(self) -> None:
        """While we hold the lease: connect, ensure the stream, publish on wake/poll."""
        self._nc = await connect(self.nats_url, name=f"ticketing-relay-{self.stream}")
        await ensure_stream(self._nc.jetstream(), self.stream, self.subject_prefix)
        self.active = True
        log.info("outbox relay active: %s -> %s", self.database_url.split("@")[-1], self.stream)
        self._renewed = time.monotonic()
        while True:
            assert self._wake is not None
            self._wake.clear()
            try:
                await self.publish_pending()
                if not await self._keep_lease():
                    raise LeaseLost
            except LeaseLost:
                log.warning("outbox relay lost its lease; standing by")
                return
            wait = min(self.poll_interval, self.lease.renew_interval)
            await self._sleep_or_wake(wait)

    async def _keep_lease(self) -> bool:
        """Renew the lease when a renewal is due; False if it was lost."""
        if time.monotonic() - self._renewed < self.lease.renew_interval:
            return True
        if not await asyncio.to_thread(self.lease.renew):
            return False
        self._renewed = time.monotonic()
        return True

    async def _disconnect(self) -> None:
        self.active = False
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=2)

    async def _try_lease(self) -> bool:
        try:
            return await asyncio.to_thread(self.lease.try_acquire)
        except Exception:  # a broken lease backend must not kill the relay; retry later
            log.warning("outbox relay: lease %s unavailable", self.lease.name, exc_info=True)
            return False

    async def run(self) -> None:
        """Run until cancelled: stand by for the lease, then relay; retry after failures."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        unsubscribe = outbox.subscribe(self._on_commit)
        backoff = 0.2
        try:
            while True:
                if not await self._try_lease():
                    await asyncio.sleep(self.lease.renew_interval)
                    continue
                try:
                    await self._serve()
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # NATS or the database unavailable: retry later
                    log.warning(
                        "outbox relay pass failed (%s: %s); retrying in %.1fs",
                        type(exc).__name__,
                        exc,
                        backoff,
                    )
                    await self._disconnect()
                    await asyncio.sleep(backoff)  # not woken by commits: no retry storm
                    backoff = min(backoff * 2, self.max_backoff)
                finally:
                    await self._disconnect()
        finally:
            unsubscribe()
            await asyncio.to_thread(self.lease.release)


def relay_from_settings() -> Relay | None:
    """The relay this deployment wants, or None when NATS_URL is unset (embedded mode)."""
    s = get_settings()
    if not s.nats_url:
        return None
    return Relay(
        database_url=s.database_url,
        nats_url=s.nats_url,
        stream=s.nats_stream,
        subject_prefix=s.nats_subject_prefix,
    )


async def run_relay() -> None:
    """Reflex lifespan task: relay the outbox to NATS when NATS_URL is set, else do nothing
    (events are still delivered in-process to `outbox.subscribe` handlers)."""
    relay = relay_from_settings()
    if relay is None:
        log.info("NATS_URL unset: domain events stay in-process")
        return
    await relay.run()
