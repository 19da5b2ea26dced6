"""Background work of each backend worker, started and stopped with the Reflex backend.

`register(app)` adds one lifespan task that runs, on every worker:
- the event bus (`bus.py`): committed domain events from this and every other worker;
- the live pusher (`ticketing_app.live`): events -> `_reload_live` on this worker's watchers
  (and the unread-count signal of `services/watches.on_unread_changed`: the navbar's bell);
- the outbox relay to NATS JetStream when NATS_URL is set (`ticketing_app.outbox.relay`,
  leased likewise);
- the expiry scheduler (`expiry.py`), active only on the worker holding the
  "expiry-scheduler" lease (`ticketing_app.lease`); the others poll and take over within
  seconds when the holder dies. The lease saves work; correctness comes from the
  idempotent `orders.expire_order`.
- the notifications consumer and sender (`notifications.py`: outbox -> deliveries -> email,
  SPEC §11), under its own "notifications" lease;
- the event-start scheduler (`event_start.py`: listings leave the market at their event's
  start), under its own "event-start-scheduler" lease, the same way;
- the ledger release sweep (`ledger_release.py`: sellers' proceeds become available 48 h
  after the event, SPEC §12), under its own "ledger-release" lease, the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ticketing_app.jobs.bus import EventBus
from ticketing_app.jobs.event_start import EventStartScheduler
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.jobs.ledger_release import LedgerReleaseScheduler
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "expiry-scheduler"
EVENT_START_LEASE = "event-start-scheduler"
LEDGER_RELEASE_LEASE = "ledger-release"
LEASE_TTL_SECONDS = 5.0
STANDBY_POLL_SECONDS = 1.0


async def run_scheduler(
    scheduler: ExpiryScheduler | EventStartScheduler | LedgerReleaseScheduler | None = None,
    *,
    lease: Any = None,
    poll_seconds: float = STANDBY_POLL_SECONDS,
) -> None:
    """Run `scheduler` while this process holds the lease; stop it when the lease is lost."""
    from ticketing_app.lease import make_lease

    scheduler = scheduler or ExpiryScheduler()
    lease = lease or make_lease(SCHEDULER_LEASE, ttl_seconds=LEASE_TTL_SECONDS)
    try:
        while True:
            held = await asyncio.to_thread(lease.try_acquire)
            if held and not scheduler.running:
                log.info("expiry scheduler: lease acquired, starting")
                await asyncio.to_thread(scheduler.start)
            elif not held and scheduler.running:
                log.warning("expiry scheduler: lease lost, stopping")
                scheduler.stop()
            await asyncio.sleep(lease.renew_interval if held else poll_seconds)
    finally:
        scheduler.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(lease.release)


async def _supervise(name: str, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Keep a background loop alive: a crash is logged and the loop restarted with backoff."""
    delay = 0.5
    while True:
        try:
            await start()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting in %.1f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def run_background(app: Any) -> None:
    """The lifespan task: bus + live pusher + leased expiry scheduler, until shutdown."""
    from ticketing_app import readmodel
    from ticketing_app.jobs.notifications import run_notifications
    from ticketing_app.lease import make_lease
    from ticketing_app.live import LivePusher, unread_changed_event
    from ticketing_app.outbox.relay import run_relay
    from ticketing_app.services import watches

    bus = EventBus(redis_url=get_settings().redis_url)
    pusher = LivePusher(app)
    scheduler = ExpiryScheduler()
    event_starts = EventStartScheduler()
    # First: the read model drops what an event changed before any listener re-reads it.
    bus.add_listener(readmodel.apply_everywhere)
    bus.add_gap_listener(readmodel.invalidate_everywhere)
    bus.add_listener(pusher.on_event)
    bus.add_listener(scheduler.on_event)
    bus.add_listener(event_starts.on_event)
    # New in-app notifications (made by the notifications consumer, on the lease holder) and
    # "mark all read": the user's bells, live, on whichever worker holds their sockets.
    stop_unread = watches.on_unread_changed(
        lambda users: [bus.publish(unread_changed_event(u)) for u in users]
    )
    loops: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
        "ticketing-event-bus": bus.run,
        "ticketing-live-prune": pusher.prune_forever,
        "ticketing-expiry": lambda: run_scheduler(scheduler),
        "ticketing-event-start": lambda: run_scheduler(
            event_starts, lease=make_lease(EVENT_START_LEASE, ttl_seconds=LEASE_TTL_SECONDS)
        ),
        "ticketing-ledger-release": lambda: run_scheduler(
            LedgerReleaseScheduler(),
            lease=make_lease(LEDGER_RELEASE_LEASE, ttl_seconds=LEASE_TTL_SECONDS),
        ),
        "ticketing-outbox-relay": run_relay,  # no-op without NATS_URL (docs/events.md)
        "ticketing-notifications": run_notifications,  # docs/notifications.md
    }
    tasks = [asyncio.create_task(_supervise(n, f), name=n) for n, f in loops.items()]
    try:
        await asyncio.gather(*tasks)
    finally:
        stop_unread()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def register(app: Any) -> None:
    """Start the background work with the backend (call once, where the app is created)."""
    app.register_lifespan_task(run_background)
