"""Sellers' pending proceeds become available 48 hours after their event (SPEC §12): a
periodic sweep calling the one idempotent `ledger.release_due`, under its own lease
(`jobs.run_scheduler`), like the expiry and event-start schedulers.

No precise timer: being a minute late by the sweep costs nobody anything, and a payout
request releases the seller's due sales itself first (`payouts.request_payout`), so no
balance ever depends on this job having run. Two sweeps at once (a lease overlap) are
wasteful, never wrong: each locks the sellers it releases for and re-reads what is due.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from ticketing_app.db import write_session
from ticketing_app.jobs.scheduling import add_interval, started_scheduler
from ticketing_app.services import ledger

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "ledger-release-sweep"
SWEEP_SECONDS = 60.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def release_all_due(
    *, now: datetime, db_url: str | None = None, batch: int = ledger.RELEASE_BATCH
) -> list[str]:
    """Release everything due at `now`, one batch per transaction; the order ids released."""
    released: list[str] = []
    while True:
        with write_session(db_url) as db, db.begin():
            ids = ledger.release_due(db.connection(), now=now, limit=batch)
        released += ids
        if len(ids) < batch:
            return released


class LedgerReleaseScheduler:
    """`start`/`stop` may be called repeatedly (lease gained/lost)."""

    def __init__(
        self,
        *,
        db_url: str | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.db_url = db_url
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        with self._lock:
            if self._scheduler is not None:
                return
            self._scheduler = started_scheduler(max_workers=1)
        add_interval(
            self._scheduler,
            self.sweep,
            seconds=self.sweep_seconds,
            job_id=SWEEP_JOB_ID,
            first_run=_utcnow(),  # at once: what fell due while no scheduler ran
        )
        log.info("ledger release scheduler started")

    def stop(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)

    def sweep(self) -> list[str]:
        try:
            released = release_all_due(now=self.clock(), db_url=self.db_url)
        except Exception:
            log.exception("ledger release sweep failed")
            return []
        if released:
            log.info("ledger: %d sale(s) became available", len(released))
        return released
