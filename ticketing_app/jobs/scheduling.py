"""The APScheduler setup both schedulers use (expiry, event start)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler


def started_scheduler(max_workers: int) -> BackgroundScheduler:
    """A running scheduler on its own threads, in UTC: a late run is never skipped (no misfire
    grace), missed runs coalesce into one, and a job never overlaps itself — the jobs are
    idempotent service calls, so running late is fine and running twice at once is waste."""
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    scheduler.start()
    return scheduler


def add_interval(
    scheduler: BackgroundScheduler,
    func: Callable[[], object],
    *,
    seconds: float,
    job_id: str,
    first_run: datetime,
) -> None:
    """Run `func` every `seconds`, the first time at `first_run` (a sweep: at once)."""
    scheduler.add_job(
        func,
        "interval",
        seconds=seconds,
        id=job_id,
        next_run_time=first_run,
        replace_existing=True,
    )
