"""Expiry on time: an APScheduler timer per active order plus a sweep that catches the rest.

Both paths call the one idempotent service (`orders.expire_order` / `orders.expire_due_orders`),
whose conditional UPDATE makes a second expiry of the same order a no-op. So two schedulers
running at once (a lease overlap, a test) are wasteful but never wrong.

- Timer: `on_event` sees each committed `OrderCreated` / `OrderUpdated` (a deadline moved
  earlier by an event's new start; from any worker, via the event bus) and
  puts the order in the 10 ms slot its `expires_at` falls in; one APScheduler job per slot, at
  the slot's end, expires everything then due in one transaction. APScheduler's `add_job` is
  thread-safe, so events may be handed in from the committing thread or the event loop.
- Start-up: every active order gets a timer (past-due ones fire at once), which covers orders
  that fell due while no scheduler ran, and a takeover from a dead holder.
- Sweep: every `sweep_seconds`, `expire_due_orders` — the safety net for anything missed.
- Housekeeping (hourly, same lease): outbox rows past `TICKETING_OUTBOX_RETENTION_DAYS` (only
  published ones when NATS_URL is set) and failed sign-ins past the rate-limit window.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import select

from ticketing_app import outbox
from ticketing_app.db import read_session, write_session
from ticketing_app.jobs.scheduling import add_interval, started_scheduler
from ticketing_app.models import Order
from ticketing_app.outbox import Event
from ticketing_app.services import accounts, auth, notifications, orders, payments
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "expiry-sweep"
# Expiry timers are grouped into slots this long (an order expires at most this late).
SLOT = timedelta(milliseconds=10)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
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


def _slot_end(moment: datetime) -> datetime:
    """The end of the SLOT-long slot `moment` falls in (`moment` itself on a boundary)."""
    step = int(SLOT / timedelta(microseconds=1))
    micros = int((moment - _EPOCH) / timedelta(microseconds=1))
    return _EPOCH + timedelta(microseconds=-(-micros // step) * step)


class ExpiryScheduler:
    """One scheduler instance; `start`/`stop` may be called repeatedly (lease gained/lost)."""

    def __init__(self, *, db_url: str | None = None, sweep_seconds: float = 2.0) -> None:
        self.db_url = db_url
        self.sweep_seconds = sweep_seconds
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._slots_lock = threading.Lock()
        self._slots: dict[str, set[str]] = {}  # slot job id -> its orders
        self._slot_of: dict[str, str] = {}  # order id -> its slot job id

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Start timers for every active order and the periodic sweep."""
        with self._lock:
            if self._scheduler is not None:
                return
            scheduler = started_scheduler(max_workers=4)
            self._scheduler = scheduler
        add_interval(
            scheduler,
            self.sweep,
            seconds=self.sweep_seconds,
            job_id=SWEEP_JOB_ID,
            first_run=_utcnow(),
        )
        add_interval(
            scheduler,
            self.housekeeping,
            seconds=HOUSEKEEPING_SECONDS,
            job_id=HOUSEKEEPING_JOB_ID,
            first_run=_utcnow() + timedelta(seconds=60),  # not in the start-up rush
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
        with self._slots_lock:  # its jobs are gone; start() schedules every active order again
            self._slots.clear()
            self._slot_of.clear()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            log.info("expiry scheduler stopped")

    def schedule(self, order_id: str, expires_at: datetime) -> None:
        """Expire `order_id` at `expires_at` (replacing an earlier timer for it).

        Timers are grouped into SLOT-long slots: one job per slot, at its end, expires every
        order then due in one transaction. 1,000 orders falling due in one second make at
        most 100 jobs instead of 1,000 write transactions (bench/bench_expiry_live.py)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        expires_at = _parse_time(expires_at) or _utcnow()
        at = _slot_end(expires_at)
        slot = f"expire-at:{at.isoformat()}"
        with self._slots_lock:
            self._drop(order_id)
            members = self._slots.setdefault(slot, set())
            new_slot = not members
            members.add(order_id)
            self._slot_of[order_id] = slot
        if not new_slot:
            return
        try:
            scheduler.add_job(
                self._run_slot,
                "date",
                run_date=at,
                args=[slot, at],
                id=slot,
                replace_existing=True,
            )
        except Exception:  # shut down between the check and the add (lease lost)
            log.debug("expiry: could not schedule %s", order_id, exc_info=True)

    def _drop(self, order_id: str) -> str | None:
        """Forget `order_id`'s timer (caller holds _slots_lock); returns its slot if now empty."""
        slot = self._slot_of.pop(order_id, None)
        if slot is None:
            return None
        members = self._slots.get(slot)
        if members is not None:
            members.discard(order_id)
            if not members:
                del self._slots[slot]
                return slot
        return None

    def unschedule(self, order_id: str) -> None:
        with self._slots_lock:
            empty = self._drop(order_id)
        scheduler = self._scheduler
        if empty is None or scheduler is None:
            return
        try:
            scheduler.remove_job(empty)
        except JobLookupError:
            pass
        except Exception:
            log.debug("expiry: could not unschedule %s", order_id, exc_info=True)

    def on_event(self, event: Event) -> None:
        """Committed domain events: a new order gets a timer; an ended one loses it."""
        if event.aggregate_type != "order":
            return
        if event.type in ("OrderCreated", "OrderUpdated"):  # new, or its deadline moved
            expires_at = _parse_time(event.payload.get("expiresAt"))
            if expires_at is not None:
                self.schedule(event.aggregate_id, expires_at + PAYLOAD_PRECISION)
        elif event.type in ("OrderCancelled", "OrderExpired", "OrderCompleted"):
            self.unschedule(event.aggregate_id)

    def _run_slot(self, slot: str, at: datetime) -> list[str]:
        """A slot's job: expire everything due by now (its orders and any other), in one
        transaction; an order of the slot still active afterwards is looked at again."""
        early = (at - _utcnow()).total_seconds()
        if early > 0:  # the scheduler fired a hair early: never expire before the deadline
            time.sleep(early)
        try:
            with write_session(self.db_url) as db:
                expired = orders.expire_due_orders(db, now=_utcnow())
        except Exception:  # the sweep retries
            log.exception("expiry slot %s failed", slot)
            expired = []
        with self._slots_lock:
            members = self._slots.pop(slot, set())
            for order_id in members:
                self._slot_of.pop(order_id, None)
        for order_id in members.difference(expired):
            self._retry_if_early(order_id)
        return expired

    def _retry_if_early(self, order_id: str) -> None:
        """Still active after its slot ran (the expiry failed, or its deadline moved): try again
        just after its deadline."""
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
        """Delete outbox rows past retention, stale sign-in failures, sessions ended over a
        day ago, handled Stripe event ids past retention, and done deliveries, read in-app
        notifications and spent account tokens past theirs; returns the counts of the first
        two."""
        settings = get_settings()
        now = _utcnow()
        events = failures = sessions = stripe_events = 0
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
            with write_session(self.db_url) as db:
                sessions = auth.prune_sessions(db, now=now)
            if settings.ticketing_stripe_event_retention_days:
                with write_session(self.db_url) as db:
                    stripe_events = payments.prune_stripe_events(
                        db,
                        before=now - timedelta(days=settings.ticketing_stripe_event_retention_days),
                    )
            notified = self.prune_notifications(now)
        except Exception:
            log.exception("housekeeping failed")
            notified = {}
        if events or failures or sessions or stripe_events or any(notified.values()):
            log.info(
                "housekeeping deleted %d event(s), %d sign-in failure(s), %d ended session(s), "
                "%d Stripe event id(s), %d delivery(ies), %d notification(s), %d token(s)",
                events,
                failures,
                sessions,
                stripe_events,
                notified.get("deliveries", 0),
                notified.get("notifications", 0),
                notified.get("tokens", 0),
            )
        return events, failures

    def prune_notifications(self, now: datetime) -> dict[str, int]:
        """The notifications side (SPEC §11): done deliveries, read in-app notifications and
        used or expired account tokens past their retentions (0: kept)."""
        settings = get_settings()
        counts = {"deliveries": 0, "notifications": 0, "tokens": 0}
        steps = (
            (
                "deliveries",
                settings.ticketing_delivery_retention_days,
                notifications.prune_deliveries,
            ),
            (
                "notifications",
                settings.ticketing_notification_retention_days,
                notifications.prune_notifications,
            ),
            ("tokens", settings.ticketing_account_token_retention_days, accounts.prune_tokens),
        )
        for name, days, prune in steps:
            if days:
                with write_session(self.db_url) as db:
                    counts[name] = prune(db, before=now - timedelta(days=days))
        return counts
