"""An event's start ends its market (SPEC §9): a timer at the next start plus a periodic sweep,
both calling the one idempotent `event_start.withdraw_started_listings`.

- Timer: one APScheduler job at the earliest upcoming event start (`event_start.next_event_start`);
  when it fires it withdraws everything then due and arms itself for the next start. It
  follows every start, with listings or not (one UPDATE matching nothing is cheaper than
  re-arming whenever a ticket is listed). A
  committed `EventCreated`/`EventUpdated` (from any worker, via the event bus) with an earlier
  start moves it forward.
- Sweep: every `sweep_seconds`, and at once on start-up, the same call: the safety net for a
  start that passed while no scheduler ran (a restart), a ticket released by an order that
  expired at the start, a timer that failed.
Run under its own lease (`jobs.run_scheduler`), like the expiry scheduler: two running at
once (a lease overlap) is wasteful, never wrong — the UPDATE re-checks `status='available'`
and, on PostgreSQL, concurrent batches skip each other's locked rows.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from ticketing_app.db import read_session, write_session
from ticketing_app.jobs.scheduling import add_interval, started_scheduler
from ticketing_app.outbox import Event
from ticketing_app.services import event_start

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "event-start-sweep"
TIMER_JOB_ID = "event-start-timer"
SWEEP_SECONDS = 5.0
BATCH = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class EventStartScheduler:
    """`start`/`stop` may be called repeatedly (lease gained/lost)."""

    def __init__(self, *, db_url: str | None = None, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.db_url = db_url
        self.sweep_seconds = sweep_seconds
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._armed_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    @property
    def armed_at(self) -> datetime | None:
        """When the timer fires next (None: no upcoming event, or not running)."""
        return self._armed_at

    def start(self) -> None:
        with self._lock:
            if self._scheduler is not None:
                return
            scheduler = started_scheduler(max_workers=2)
            self._scheduler = scheduler
        add_interval(  # at once: starts that passed while no scheduler ran
            scheduler,
            self.sweep,
            seconds=self.sweep_seconds,
            job_id=SWEEP_JOB_ID,
            first_run=_utcnow(),
        )
        self.arm()
        log.info("event-start scheduler started; next start %s", self._armed_at)

    def stop(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
            self._armed_at = None
        if scheduler is not None:
            scheduler.shutdown(wait=False)

    def arm(self, after: datetime | None = None) -> None:
        """Set the timer at the first event start after `after` (default: now)."""
        try:
            with read_session(self.db_url) as db:
                upcoming = event_start.next_event_start(db, after=after or _utcnow())
        except Exception:  # the sweep still runs
            log.exception("event-start: could not read the next start")
            return
        self._set_timer(upcoming, replace=True)

    def _set_timer(self, at: datetime | None, *, replace: bool) -> None:
        """Fire at `at`: always when `replace`, else only if it is earlier than the timer."""
        with self._lock:
            scheduler = self._scheduler
            if scheduler is None:
                return
            if at is None:
                if replace:
                    self._armed_at = None
                    if scheduler.get_job(TIMER_JOB_ID) is not None:
                        scheduler.remove_job(TIMER_JOB_ID)
                return
            if not replace and self._armed_at is not None and at >= self._armed_at:
                return
            self._armed_at = at
            try:
                scheduler.add_job(
                    self._fire,
                    "date",
                    run_date=at,
                    args=[at],
                    id=TIMER_JOB_ID,
                    replace_existing=True,
                )
            except Exception:  # shut down between the check and the add (lease lost)
                log.debug("event-start: could not set the timer", exc_info=True)

    def on_event(self, event: Event) -> None:
        """A committed event created or moved: its start may come before the timer's."""
        if event.aggregate_type != "event" or event.type not in ("EventCreated", "EventUpdated"):
            return
        starts_at = _parse_time(event.payload.get("startsAt"))
        if starts_at is None:
            return
        if event.type == "EventUpdated":  # it may have moved later: ask the database again
            self.arm()
        elif starts_at > _utcnow():
            self._set_timer(starts_at, replace=False)

    def _fire(self, at: datetime) -> list[str]:
        early = (at - _utcnow()).total_seconds()
        if early > 0:  # the scheduler fired a hair early: never withdraw before the start
            time.sleep(early)
        withdrawn = self.sweep()
        self.arm(after=at)
        return withdrawn

    def sweep(self) -> list[str]:
        """Withdraw every listing of a started event (in batches); returns their ids."""
        withdrawn: list[str] = []
        try:
            while True:
                with write_session(self.db_url) as db:
                    batch = event_start.withdraw_started_listings(db, now=_utcnow(), limit=BATCH)
                withdrawn += batch
                if len(batch) < BATCH:
                    break
        except Exception:
            log.exception("event-start sweep failed")
        if withdrawn:
            log.info("event start: %d listing(s) left the market", len(withdrawn))
        return withdrawn
