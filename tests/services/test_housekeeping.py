"""Hourly housekeeping (jobs/expiry.ExpiryScheduler.housekeeping): the outbox and the failed
sign-in log stay bounded, and nothing still needed is deleted."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.db import read_session
from ticketing_app.errors import RateLimited, ValidationError
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.models import AuthSession, DomainEvent, StripeEvent
from ticketing_app.services import auth
from ticketing_app.settings import reset_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("NATS_URL", raising=False)
    reset_settings()
    yield monkeypatch
    reset_settings()


@pytest.fixture
def NOW() -> datetime:  # noqa: N802  (housekeeping reads the real clock: ages are from now)
    return datetime.now(UTC)


def write_event(new_session: Callable[[], Session], at: datetime, published: bool) -> str:
    aggregate_id = str(uuid.uuid4())
    with new_session() as db, db.begin():
        event = outbox.NewEvent("TicketUpdated", "ticket", aggregate_id, 1, {"id": aggregate_id})
        outbox.record_rows(db, [event], now=at)
        if published:
            db.exec(
                sa.update(DomainEvent)
                .where(DomainEvent.aggregate_id == aggregate_id)
                .values(published_at=at + timedelta(seconds=1))
            )
    return aggregate_id


def remaining(db_url: str) -> set[str]:
    with read_session(db_url) as db:
        return set(db.exec(select(DomainEvent.aggregate_id)).all())


def test_outbox_rows_past_retention_are_deleted(db_url, new_session, settings_env, NOW):
    settings_env.setenv("TICKETING_OUTBOX_RETENTION_DAYS", "30")
    old = write_event(new_session, NOW - timedelta(days=31), published=False)
    recent = write_event(new_session, NOW - timedelta(days=29), published=False)
    events, _ = ExpiryScheduler(db_url=db_url).housekeeping()
    assert events == 1
    assert remaining(db_url) == {recent}
    assert old not in remaining(db_url)


def test_with_nats_an_unpublished_row_is_never_deleted(db_url, new_session, settings_env, NOW):
    settings_env.setenv("TICKETING_OUTBOX_RETENTION_DAYS", "30")
    settings_env.setenv("NATS_URL", "nats://127.0.0.1:1")  # housekeeping never connects
    published = write_event(new_session, NOW - timedelta(days=40), published=True)
    waiting = write_event(new_session, NOW - timedelta(days=40), published=False)
    ExpiryScheduler(db_url=db_url).housekeeping()
    assert remaining(db_url) == {waiting}
    assert published not in remaining(db_url)


def test_retention_zero_keeps_everything(db_url, new_session, settings_env, NOW):
    settings_env.setenv("TICKETING_OUTBOX_RETENTION_DAYS", "0")
    kept = {write_event(new_session, NOW - timedelta(days=d), published=True) for d in (1, 400)}
    assert ExpiryScheduler(db_url=db_url).housekeeping()[0] == 0
    assert remaining(db_url) == kept


def test_pruning_deletes_in_batches_until_done(db_url, new_session, settings_env, NOW):
    for _ in range(7):
        write_event(new_session, NOW - timedelta(days=100), published=False)
    keep = write_event(new_session, NOW, published=False)
    with new_session() as db:
        assert outbox.prune(db, before=NOW - timedelta(days=1), published_only=False, batch=3) == 7
    assert remaining(db_url) == {keep}


def test_stale_sign_in_failures_are_forgotten_recent_ones_still_count(
    db_url, new_session, settings_env, NOW
):
    with new_session() as db:
        auth.signup(db, email="hk@example.com", password="password1", now=NOW)
    window = timedelta(minutes=15)
    for _ in range(6):  # long ago: no longer count
        with new_session() as db, pytest.raises(ValidationError):
            auth.signin(db, email="hk@example.com", password="wrong-one", now=NOW - window * 2)
    for _ in range(10):  # within the window: the account is limited
        with new_session() as db, pytest.raises(ValidationError):
            auth.signin(db, email="hk@example.com", password="wrong-one", now=NOW - window / 2)
    _, failures = ExpiryScheduler(db_url=db_url).housekeeping()
    assert failures == 6
    with new_session() as db, pytest.raises(RateLimited):
        auth.signin(db, email="hk@example.com", password="password1", now=NOW)


def test_ended_sessions_are_deleted_after_a_day_live_ones_kept(
    db_url, new_session, settings_env, NOW
):
    with new_session() as db:
        _user, live = auth.signup(db, email="live@example.com", password="password1", now=NOW)
    with new_session() as db:
        _user, old = auth.signin(db, email="live@example.com", password="password1", now=NOW)
    with new_session() as db:
        auth.signout(db, token=old, now=NOW - timedelta(days=2))  # revoked two days ago
    with new_session() as db:
        _user, unused = auth.signin(
            db, email="live@example.com", password="password1", now=NOW - timedelta(days=3)
        )
        auth.begin_handoff(db, token=unused, now=NOW - timedelta(days=3))  # code never used
    with new_session() as db:
        _user, recent = auth.signin(db, email="live@example.com", password="password1", now=NOW)
        auth.signout(db, token=recent, now=NOW)  # ended, but less than a day ago
    ExpiryScheduler(db_url=db_url).housekeeping()
    with read_session(db_url) as db:
        left = db.exec(select(AuthSession.token_hash)).all()
        assert auth.lookup_session(db, token=live, now=NOW) is not None
    assert sorted(left) == sorted([auth.hash_token(live), auth.hash_token(recent)])


def stripe_event_ids(db_url: str) -> set[str]:
    with read_session(db_url) as db:
        return set(db.exec(select(StripeEvent.id)).all())


def add_stripe_events(new_session, **ages: timedelta) -> None:
    with new_session() as db, db.begin():
        for event_id, age in ages.items():
            db.add(StripeEvent(id=event_id, type="payment_intent.succeeded", received_at=age))


def test_handled_stripe_event_ids_past_retention_are_deleted(
    db_url, new_session, settings_env, NOW
):
    """`stripe_events` (the webhook's de-duplication) used to grow forever."""
    add_stripe_events(
        new_session,
        evt_old=NOW - timedelta(days=31),
        evt_recent=NOW - timedelta(days=29),
        evt_retried=NOW - timedelta(days=3),  # Stripe may still redeliver this one
    )
    ExpiryScheduler(db_url=db_url).housekeeping()  # TICKETING_STRIPE_EVENT_RETENTION_DAYS=30
    assert stripe_event_ids(db_url) == {"evt_recent", "evt_retried"}
    settings_env.setenv("TICKETING_STRIPE_EVENT_RETENTION_DAYS", "4")
    reset_settings()
    ExpiryScheduler(db_url=db_url).housekeeping()
    assert stripe_event_ids(db_url) == {"evt_retried"}


def test_stripe_event_retention_zero_keeps_them(db_url, new_session, settings_env, NOW):
    settings_env.setenv("TICKETING_STRIPE_EVENT_RETENTION_DAYS", "0")
    reset_settings()
    add_stripe_events(new_session, evt_ancient=NOW - timedelta(days=900))
    ExpiryScheduler(db_url=db_url).housekeeping()
    assert stripe_event_ids(db_url) == {"evt_ancient"}
