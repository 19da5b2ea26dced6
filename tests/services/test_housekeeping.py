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
from ticketing_app.db import get_engine, read_session
from ticketing_app.errors import RateLimited, ValidationError
from ticketing_app.jobs.expiry import ExpiryScheduler
from ticketing_app.models import (
    AccountToken,
    AuthSession,
    Delivery,
    DeliveryStatus,
    DomainEvent,
    Notification,
    StripeEvent,
    TokenPurpose,
)
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


# -- notifications (SPEC §11): deliveries, in-app notifications, account tokens ------------------
def add_delivery(db_url: str, name: str, *, status: str, at: datetime, event_id: str) -> None:
    with get_engine(db_url).begin() as conn:
        conn.execute(
            sa.insert(Delivery.__table__).values(
                id=str(uuid.uuid4()),
                domain_event_id=event_id,
                recipient=f"{name}@example.com",
                user_id=None,
                template="welcome",
                context="{}",
                status=status,
                attempts=0,
                next_attempt_at=at,
                created_at=at,
                sent_at=at if status == DeliveryStatus.SENT else None,
            )
        )


def delivery_names(db_url: str) -> set[str]:
    with get_engine(db_url).connect() as conn:
        rows = conn.execute(sa.select(Delivery.__table__.c.recipient)).scalars()
        return {r.split("@")[0] for r in rows}


def test_done_deliveries_past_retention_are_deleted_pending_and_replayable_kept(
    db_url, new_session, settings_env, NOW
):
    settings_env.setenv("TICKETING_DELIVERY_RETENTION_DAYS", "90")
    old, recent = NOW - timedelta(days=91), NOW - timedelta(days=89)
    still_in_outbox = write_event(new_session, NOW - timedelta(days=1), published=True)
    with read_session(db_url) as db:
        kept_event_id = db.exec(
            select(DomainEvent.id).where(DomainEvent.aggregate_id == still_in_outbox)
        ).one()
    gone = str(uuid.uuid4())  # an event that has left the outbox (or a password reset)
    add_delivery(db_url, "sent_old", status=DeliveryStatus.SENT, at=old, event_id=gone)
    add_delivery(db_url, "failed_old", status=DeliveryStatus.FAILED, at=old, event_id=gone)
    add_delivery(db_url, "pending_old", status=DeliveryStatus.PENDING, at=old, event_id=gone)
    add_delivery(db_url, "sent_recent", status=DeliveryStatus.SENT, at=recent, event_id=gone)
    # Its event is still in the outbox: a replay would plan it again, so it stays.
    add_delivery(db_url, "replayable", status=DeliveryStatus.SENT, at=old, event_id=kept_event_id)
    ExpiryScheduler(db_url=db_url).housekeeping()
    assert delivery_names(db_url) == {"pending_old", "sent_recent", "replayable"}


def test_read_notifications_past_retention_are_deleted_unread_kept(
    db_url, make_user, settings_env, NOW
):
    settings_env.setenv("TICKETING_NOTIFICATION_RETENTION_DAYS", "30")
    user = make_user()
    table = Notification.__table__
    rows = {
        "read_old": NOW - timedelta(days=31),
        "read_recent": NOW - timedelta(days=29),
        "unread_old": None,
    }
    with get_engine(db_url).begin() as conn:
        for kind, read_at in rows.items():
            conn.execute(
                sa.insert(table).values(
                    id=str(uuid.uuid4()),
                    user_id=user.id,
                    domain_event_id=str(uuid.uuid4()),
                    kind=kind,
                    text=kind,
                    link="/",
                    created_at=NOW - timedelta(days=100),
                    read_at=read_at,
                )
            )
    ExpiryScheduler(db_url=db_url).housekeeping()
    with get_engine(db_url).connect() as conn:
        assert set(conn.execute(sa.select(table.c.kind)).scalars()) == {"read_recent", "unread_old"}


def test_spent_account_tokens_are_deleted_live_ones_kept(db_url, make_user, settings_env, NOW):
    settings_env.setenv("TICKETING_ACCOUNT_TOKEN_RETENTION_DAYS", "7")
    user = make_user()
    table = AccountToken.__table__
    tokens = {  # name: (expires_at, used_at)
        "used_long_ago": (NOW + timedelta(hours=1), NOW - timedelta(days=8)),
        "used_lately": (NOW - timedelta(days=30), NOW - timedelta(days=6)),
        "expired_long_ago": (NOW - timedelta(days=8), None),
        "expired_lately": (NOW - timedelta(days=1), None),
        "live": (NOW + timedelta(hours=1), None),
    }
    with get_engine(db_url).begin() as conn:
        for name, (expires_at, used_at) in tokens.items():
            conn.execute(
                sa.insert(table).values(
                    id=str(uuid.uuid4()),
                    user_id=user.id,
                    purpose=TokenPurpose.RESET,
                    token_hash=name.ljust(64, "0"),
                    created_at=NOW - timedelta(days=40),
                    expires_at=expires_at,
                    used_at=used_at,
                )
            )
    ExpiryScheduler(db_url=db_url).housekeeping()
    with get_engine(db_url).connect() as conn:
        left = {h.rstrip("0") for h in conn.execute(sa.select(table.c.token_hash)).scalars()}
    assert left == {"used_lately", "expired_lately", "live"}


def test_notification_retentions_zero_keep_everything(db_url, make_user, settings_env, NOW):
    for name in ("DELIVERY", "NOTIFICATION", "ACCOUNT_TOKEN"):
        settings_env.setenv(f"TICKETING_{name}_RETENTION_DAYS", "0")
    ancient = NOW - timedelta(days=900)
    add_delivery(db_url, "ancient", status=DeliveryStatus.SENT, at=ancient, event_id="x")
    ExpiryScheduler(db_url=db_url).housekeeping()
    assert delivery_names(db_url) == {"ancient"}
