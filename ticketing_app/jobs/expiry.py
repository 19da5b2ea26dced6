"""Expiry on time: an APScheduler timer per active order plus a sweep that catches the rest.

Both paths call the one idempotent service (`orders.expire_order` / `orders.expire_due_orders`),
whose conditional UPDATE makes a second expiry of the same order a no-op. So two schedulers
running at once (a lease overlap, a test) are wasteful but never wrong.

- Timer: `on_event` sees each committed `OrderCreated` (from any worker, via the event bus) and
  adds a one-shot job at `expires_at`. APScheduler's `add_job` is thread-safe, so events may be
  handed in from the committing thread or the event loop.
- Start-up: every active order gets a timer (past-due ones fire at once), which covers orders
  that fell due while no scheduler ran, and a takeover from a dead holder.
- Sweep: every `sweep_seconds`, `expire_due_orders` — the safety net for anything missed.
- Housekeeping (hourly, same lease): outbox rows past `TICKETING_OUTBOX_RETENTION_DAYS` (only
  published ones when NATS_URL is set) and failed sign-ins past the rate-limit window.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import select

from ticketing_app.db import read_session, write_session
from ticketing_app.models import Order
from ticketing_app.services import auth, orders, outbox
from ticketing_app.services.outbox import Event
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "expiry-sweep"
HOUSEKEEPING_JOB_ID = "housekeeping"
HOUSEKEEPING_SECONDS = 3600
# Orders scheduled individually at start-up; the sweep takes care of any beyond this.
STARTUP_TIMER_LIMIT = 10_000
# Event payloads carry milliseconds; the stored deadline may be up to 1 ms later.
PAYLOAD_PRECISION = timedelta(milliseconds=1)
# A timer that fired a hair early (clock granularity) is retried this much later.
EARLY_RETRY = timedelta(milliseconds=20)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _timer_id(order_id: str) -> str:
    return f"expire:{order_id}"


class ExpiryScheduler:
    """One scheduler instance; `start`/`stop` may be called repeatedly (lease gained/lost)."""

    def __init__(self, *, db_url: str | None = None, sweep_seconds: float = 2.0) -> None:
        self.db_url = db_url
        self.sweep_seconds = sweep_seconds
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Start timers for every active order and the periodic sweep."""
        with self._lock:
            if self._scheduler is not None:
                return
            scheduler = BackgroundScheduler(
                executors={"default": ThreadPoolExecutor(max_workers=4)},
                job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
                timezone=UTC,
            )
            scheduler.start()
            self._scheduler = scheduler
        scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.sweep_seconds,
            id=SWEEP_JOB_ID,
            next_run_time=_utcnow(),
            replace_existing=True,
        )
        scheduler.add_job(
            self.housekeeping,
            "interval",
            seconds=HOUSEKEEPING_SECONDS,
            id=HOUSEKEEPING_JOB_ID,
            next_run_time=_utcnow() + timedelta(seconds=60),  # not in the start-up rush
            replace_existing=True,
        )
        try:
            with read_session(self.db_url) as db:
                active = db.exec(
                    select(Order.id, Order.expires_at)
                    .where(Order.status == orders.ACTIVE)
                    .order_by(Order.expires_at)
                    .limit(STARTUP_TIMER_LIMIT)
                ).all()
        except Exception:  # the sweep still runs and retries
            log.exception("expiry: could not load active orders at start")
            active = []
        for order_id, expires_at in active:
            self.schedule(order_id, expires_at)
        log.info("expiry scheduler started with %d active order(s)", len(active))

    def stop(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            log.info("expiry scheduler stopped")

    def schedule(self, order_id: str, expires_at: datetime) -> None:
        """A one-shot timer at `expires_at` (replacing any timer for the same order)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        expires_at = _parse_time(expires_at) or _utcnow()
        try:
            scheduler.add_job(
                self.expire_one,
                "date",
                run_date=expires_at,
                args=[order_id],
                id=_timer_id(order_id),
                replace_existing=True,
            )
        except Exception:  # shut down between the check and the add (lease lost)
            log.debug("expiry: could not schedule %s", order_id, exc_info=True)

    def unschedule(self, order_id: str) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        try:
            scheduler.remove_job(_timer_id(order_id))
        except JobLookupError:
            pass
        except Exception:
            log.debug("expiry: could not unschedule %s", order_id, exc_info=True)

    def on_event(self, event: Event) -> None:
        """Committed domain events: a new order gets a timer; an ended one loses it."""
        if event.aggregate_type != "order":
            return
        if event.type == "OrderCreated":
            expires_at = _parse_time(event.payload.get("expiresAt"))
            if expires_at is not None:
                self.schedule(event.aggregate_id, expires_at + PAYLOAD_PRECISION)
        elif event.type in ("OrderCancelled", "OrderExpired", "OrderCompleted"):
            self.unschedule(event.aggregate_id)

    def expire_one(self, order_id: str) -> bool:
        """The timer's job: expire the order if still due (idempotent), and with it every
        other order due by now in the same transaction: when many fall due in the same second
        the first timer drains them and the rest find nothing (docs/performance.md)."""
        with write_session(self.db_url) as db:
            changed = order_id in orders.expire_due_orders(db, now=_utcnow())
        if not changed:
            self._retry_if_early(order_id)
        return changed

    def _retry_if_early(self, order_id: str) -> None:
        """Still active after the timer: it fired before the deadline; try again just after."""
        with read_session(self.db_url) as db:
            order = db.get(Order, order_id)
            if order is None or order.status != orders.ACTIVE:
                return
            expires_at = order.expires_at
        self.schedule(order_id, max(expires_at, _utcnow()) + EARLY_RETRY)

    def sweep(self) -> list[str]:
        """Expire everything past due; returns the ids this call expired."""
        try:
            with write_session(self.db_url) as db:
                expired = orders.expire_due_orders(db, now=_utcnow())
        except Exception:
            log.exception("expiry sweep failed")
            return []
        if expired:
            log.info("expiry sweep expired %d order(s)", len(expired))
        return expired

    def housekeeping(self) -> tuple[int, int]:
        """Delete outbox rows past retention and stale sign-in failures; returns the counts."""
        settings = get_settings()
        now = _utcnow()
        events = failures = 0
        try:
            if settings.ticketing_outbox_retention_days:
                with write_session(self.db_url) as db:
                    events = outbox.prune(
                        db,
                        before=now - timedelta(days=settings.ticketing_outbox_retention_days),
                        published_only=bool(settings.nats_url),
                    )
            with write_session(self.db_url) as db:
                failures = auth.prune_signin_failures(db, now=now)
        except Exception:
            log.exception("housekeeping failed")
        if events or failures:
            log.info("housekeeping deleted %d event(s), %d sign-in failure(s)", events, failures)
        return events, failures
