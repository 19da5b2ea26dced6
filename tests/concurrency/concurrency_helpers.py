"""Plain functions shared by the concurrency tests, importable by spawned worker processes:
racing calls and their outcomes. Users and tickets come from `tests.support.World` (at NOW).

Each call opens its own session, as a request handler or a scheduler job would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import Ticket
from ticketing_app.services import orders

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=900)
PASSWORD = "password123"

Outcome = tuple[str, Any]  # ("ok", value) | ("refused", message) | ("crashed", repr)


def outcome(call: Callable[[], Any]) -> Outcome:
    """Run one service call and classify it: a DomainError is a refusal, anything else a crash."""
    try:
        return ("ok", call())
    except DomainError as err:
        return ("refused", err.message)
    except Exception as err:  # noqa: BLE001 - a crash is a test failure, reported by the caller
        return ("crashed", repr(err))


def reserve_call(url: str, buyer_id: str, ticket_id: str, now: datetime = NOW) -> Callable[[], str]:
    """A reservation as a call (for `run_together`), returning the new order's id."""

    def call() -> str:
        with write_session(url) as db:
            return orders.reserve_ticket(
                db.get_bind(), buyer_id=buyer_id, ticket_id=ticket_id, now=now
            ).order.id

    return call


def reserve(url: str, buyer_id: str, ticket_id: str, now: datetime = NOW) -> Outcome:
    return outcome(reserve_call(url, buyer_id, ticket_id, now))


def reserve_worker(url: str, buyer_id: str, barrier: Any, tasks: Any, results: Any) -> None:
    """A worker process: for each ticket id from `tasks`, wait at the barrier, then reserve.

    Sends ("ok", order_id) / ("refused", message) / ("crashed", repr) to `results`.
    """
    with read_session(url) as db:  # connect (and set the SQLite pragmas) before the first race
        db.exec(select(sa.func.count()).select_from(Ticket)).one()
    while (ticket_id := tasks.get()) is not None:
        barrier.wait(timeout=120)
        results.put((buyer_id, reserve(url, buyer_id, ticket_id)))


ALREADY_RESERVED_OUTCOME: Outcome = ("refused", orders.ALREADY_RESERVED)


def run_together(calls: list[Callable[[], Any]], timeout: float = 60) -> list[Outcome]:
    """Start every call in its own thread, release them at once, return outcomes in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Outcome | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait(timeout=timeout)
        results[index] = outcome(call)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert all(r is not None for r in results), "a thread did not finish"
    return results  # type: ignore[return-value]
