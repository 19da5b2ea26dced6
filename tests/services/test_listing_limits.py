"""Per-seller listing limits (issue 18: one account posted 1,580 listings in 15 s and owned the
whole first page): at most TICKETING_MAX_LISTINGS_PER_HOUR new listings in any hour and
TICKETING_MAX_AVAILABLE_LISTINGS for sale at once, exact under concurrency, on both databases."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app.db import read_session
from ticketing_app.errors import RuleViolation
from ticketing_app.models import Ticket, User
from ticketing_app.services import tickets
from ticketing_app.settings import reset_settings

PER_HOUR = "You can list at most {} tickets an hour. Try again later."
AT_ONCE = (
    "You can have at most {} tickets for sale at once. Cancel a listing, or wait until one sells."  # noqa: E501
)


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int, int], None]]:
    def set_limits(per_hour: int, at_once: int) -> None:
        monkeypatch.setenv("TICKETING_MAX_LISTINGS_PER_HOUR", str(per_hour))
        monkeypatch.setenv("TICKETING_MAX_AVAILABLE_LISTINGS", str(at_once))
        reset_settings()

    yield set_limits
    monkeypatch.delenv("TICKETING_MAX_LISTINGS_PER_HOUR", raising=False)
    monkeypatch.delenv("TICKETING_MAX_AVAILABLE_LISTINGS", raising=False)
    reset_settings()


def listed(db_url: str, seller: User) -> int:
    with read_session(db_url) as db:
        return db.exec(
            select(sa.func.count()).select_from(Ticket).where(Ticket.user_id == seller.id)
        ).one()


def create(new_session: Callable[[], Session], seller: User, at: datetime) -> str:
    try:
        with new_session() as db:
            tickets.create_ticket(db, seller_id=seller.id, title="Gig", price=20, now=at)
    except RuleViolation as exc:
        assert exc.status == 400 and exc.field is None
        return exc.message
    return "listed"


def test_defaults_are_30_an_hour_and_100_at_once(new_session, seller, now, db_url):
    reset_settings()
    for i in range(30):
        assert create(new_session, seller, now + timedelta(seconds=i)) == "listed"
    assert create(new_session, seller, now + timedelta(minutes=59)) == PER_HOUR.format(30)
    assert listed(db_url, seller) == 30


def test_at_most_n_new_listings_in_any_hour(
    new_session, seller, make_user, now, db_url, limits, event_count
):
    limits(3, 0)
    for i in range(3):
        assert create(new_session, seller, now + timedelta(minutes=i)) == "listed"
    events = event_count()
    assert create(new_session, seller, now + timedelta(minutes=30)) == PER_HOUR.format(3)
    assert (listed(db_url, seller), event_count()) == (3, events)  # nothing written
    assert create(new_session, make_user(), now + timedelta(minutes=30)) == "listed"  # others
    # A sliding hour: the first listing ages out after an hour, then one more fits.
    assert create(new_session, seller, now + timedelta(minutes=59, seconds=59)) == PER_HOUR.format(
        3
    )
    assert create(new_session, seller, now + timedelta(minutes=60)) == "listed"
    assert create(new_session, seller, now + timedelta(minutes=60, seconds=1)) == PER_HOUR.format(3)


def test_at_most_m_listings_for_sale_at_once(new_session, seller, now, db_url, limits):
    limits(0, 2)
    first = None
    for i in range(2):
        with new_session() as db:
            ticket = tickets.create_ticket(
                db, seller_id=seller.id, title=f"Gig {i}", price=20, now=now
            )
            first = first or ticket
    assert create(new_session, seller, now + timedelta(days=1)) == AT_ONCE.format(2)
    assert first is not None
    with new_session() as db:  # a cancelled listing no longer counts
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=first.id, now=now)
    assert create(new_session, seller, now + timedelta(days=1)) == "listed"
    assert create(new_session, seller, now + timedelta(days=1)) == AT_ONCE.format(2)
    assert listed(db_url, seller) == 3


@pytest.mark.parametrize(("per_hour", "at_once", "message"), [(5, 0, PER_HOUR), (0, 5, AT_ONCE)])
def test_the_limits_are_exact_under_a_burst_of_listings(
    new_session, seller, now, db_url, limits, per_hour, at_once, message
):
    """20 listings at once from one seller: exactly 5 are created (the count is inside the
    creating transaction, under BEGIN IMMEDIATE on SQLite and a lock on the seller's row on
    PostgreSQL); without it, every request counted before any had written."""
    limits(per_hour, at_once)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        outcome = create(new_session, seller, now)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted(["listed"] * 5 + [message.format(5)] * 15)
    assert listed(db_url, seller) == 5
