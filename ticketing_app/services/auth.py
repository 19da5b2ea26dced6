"""Accounts and DB-backed sessions: argon2id hashes, opaque tokens (only their hash stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from passlib.context import CryptContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.db import DriverQuery
from ticketing_app.errors import Forbidden, RateLimited, ValidationError
from ticketing_app.models import AuthSession, SigninFailure, User, UTCDateTime
from ticketing_app.services import known_device
from ticketing_app.services.validation import (
    normalize_email,
    parse_email,
    parse_password,
)
from ticketing_app.settings import get_settings

INVALID_CREDENTIALS = "Invalid credentials"
ACCOUNT_SUSPENDED = "This account is suspended. Contact support if you think this is a mistake."
# Extend a session's expiry at most this often, so reading the current user rarely writes.
_SLIDE_STEP = timedelta(hours=1)


@lru_cache(maxsize=1)
def password_context() -> CryptContext:
    s = get_settings()
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=s.ticketing_argon2_memory_kib,
        argon2__time_cost=s.ticketing_argon2_time_cost,
        argon2__parallelism=1,
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return password_context().hash(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_view(user: User | SignedIn) -> dict[str, str]:
    return {"id": user.id, "email": user.email}


def _new_session(db: Session, user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    db.add(
        AuthSession(
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + timedelta(days=get_settings().ticketing_session_days),
        )
    )
    return token


def signup(db: Session, *, email: str, password: str, now: datetime) -> tuple[User, str]:
    """Create an account and sign it in; returns the user and the session token."""
    email = parse_email(email)
    password = parse_password(password)
    password_hash = password_context().hash(password)
    try:
        with db.begin():
            if db.exec(select(User.id).where(User.email == email)).first():
                raise ValidationError("Email in use", "email")
            user = User(email=email, password_hash=password_hash, created_at=now, updated_at=now)
            db.add(user)
            db.flush()
            outbox.record(
                db,
                type="UserCreated",
                aggregate_type="user",
                aggregate_id=user.id,
                aggregate_version=user.version,
                payload={"id": user.id, "email": user.email, "createdAt": now},
                now=now,
            )
            token = _new_session(db, user, now)
    except IntegrityError:
        # Two signups for one email at once: the unique index decides, the loser gets this.
        raise ValidationError("Email in use", "email") from None
    return user, token


def _check_rate_limit(db: Session, key: str, limit: int, now: datetime) -> None:
    """`key` is the email, or a known device's key (known_device.throttle_key)."""
    since = now - timedelta(seconds=get_settings().ticketing_signin_window_seconds)
    failures = db.exec(
        select(sa.func.count())
        .select_from(SigninFailure)
        .where(SigninFailure.email == key, SigninFailure.created_at > since)
    ).one()
    if failures >= limit:
        raise RateLimited("Too many failed sign-in attempts. Try again in a few minutes.")


# Ended sessions are kept this long (a signed-out browser gets the usual "not signed in"),
# then deleted by the hourly housekeeping.
SESSION_RETENTION = timedelta(days=1)


def prune_sessions(db: Session, *, now: datetime) -> int:
    """Delete sessions that expired or were revoked over a day ago (and one-time sign-in
    codes never used)."""
    before = now - SESSION_RETENTION
    with db.begin():
        return db.exec(
            sa.delete(AuthSession).where(
                sa.or_(AuthSession.expires_at < before, AuthSession.revoked_at < before)
            )
        ).rowcount


def prune_signin_failures(db: Session, *, now: datetime) -> int:
    """Forget failed sign-ins older than the rate-limit window (they no longer count)."""
    since = now - timedelta(seconds=get_settings().ticketing_signin_window_seconds)
    with db.begin():
        return db.exec(sa.delete(SigninFailure).where(SigninFailure.created_at <= since)).rowcount


def _serialize_signins(db: Session, key: str) -> None:
    """One sign-in check per limit key (email or device) at a time, until this transaction
    ends: without it, concurrent wrong guesses all passed the count before any was recorded.
    (SQLite: the write transaction's BEGIN IMMEDIATE already serialises.)"""
    if db.get_bind().dialect.name == "postgresql":
        db.exec(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("signin:" + key))))


def signin(
    db: Session, *, email: str, password: str, now: datetime, device: str | None = None
) -> tuple[User, str]:
    """Same error, and the same work, for an unknown email and a wrong password.

    Every attempt is recorded as a failure before the (slow) password check, under a lock on
    its limit's key, and the record is removed if the password was right: so at most
    `ticketing_signin_max_failures` guesses are ever checked per window and email, however
    many arrive at once. A browser presenting a known-device cookie for this email
    (`device`, services/known_device.py) is counted under its own key and limit instead, so
    guesses from elsewhere cannot lock the owner out."""
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise ValidationError(INVALID_CREDENTIALS)
    email = normalize_email(email)[:320]  # the spelling signup stored (and one limit key)
    s = get_settings()
    key = known_device.throttle_key(device, email)
    limit = s.ticketing_signin_device_max_failures if key else s.ticketing_signin_max_failures
    key = key or email
    with db.begin():
        _serialize_signins(db, key)
        _check_rate_limit(db, key, limit, now)
        attempt = SigninFailure(email=key, created_at=now)
        db.add(attempt)
        user = db.exec(select(User).where(User.email == email)).first()
    ok = password_context().verify(password[:1024], user.password_hash if user else _dummy_hash())
    if not ok or user is None:
        raise ValidationError(INVALID_CREDENTIALS)
    with db.begin():
        db.exec(sa.delete(SigninFailure).where(SigninFailure.id == attempt.id))
        suspended = db.exec(select(User.suspended_at).where(User.id == user.id)).first()
        if suspended is None:
            token = _new_session(db, user, now)
    if suspended is not None:
        # Said only after the right password (SPEC §12): an unknown email or a wrong password
        # still gets INVALID_CREDENTIALS, so this tells a guesser nothing about who exists.
        raise Forbidden(ACCOUNT_SUSPENDED)
    return user, token


# The Reflex pages sign a browser in through the cookie bridge (api/session_bridge.py): the
# page's handler turns the new session's token into a one-time code, and only that code passes
# through the page's JavaScript. The bridge exchanges it for a fresh token, which only ever
# travels in the HttpOnly cookie.
HANDOFF_SECONDS = 60


def _handoff_hash(code: str) -> str:
    # Outside the values `hash_token` can give (those are all hex): no cookie, whatever its
    # value, ever finds a handed-off session, nor slides its 60 s expiry; and a token is
    # never a valid code. ("h" + 63 hex digits: the column's 64 characters, 252 bits.)
    return "h" + hash_token(code)[:63]


def begin_handoff(db: Session, *, token: str, now: datetime) -> str:
    """Swap a just-created session's token for a one-time code valid for HANDOFF_SECONDS.
    The token stops working; `adopt_handoff` turns the code into a fresh one."""
    code = secrets.token_urlsafe(32)
    with db.begin():
        changed = db.exec(
            sa.update(AuthSession)
            .where(AuthSession.token_hash == hash_token(token), AuthSession.revoked_at.is_(None))
            .values(
                token_hash=_handoff_hash(code), expires_at=now + timedelta(seconds=HANDOFF_SECONDS)
            )
        ).rowcount
    if changed != 1:
        raise ValidationError("Your session has ended. Please sign in again.")
    return code


@dataclass(frozen=True)
class Adopted:
    """A browser's new session token, and the email it is for (its known-device cookie)."""

    token: str
    email: str


def adopt_handoff(db: Session, *, code: str | None, now: datetime) -> Adopted | None:
    """The session token for a live one-time code, or None. Single use: the code's session
    gets a new token (and its full lifetime) in one conditional UPDATE, so of two uses of one
    code exactly one succeeds."""
    if not isinstance(code, str) or not code or len(code) > 256:
        return None
    token = secrets.token_urlsafe(32)
    with db.begin():
        user_id = db.exec(
            sa.update(AuthSession)
            .where(
                AuthSession.token_hash == _handoff_hash(code),
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .values(token_hash=hash_token(token), expires_at=_slid_expiry(now))
            .returning(AuthSession.user_id)
        ).scalar_one_or_none()
        email = db.exec(select(User.email).where(User.id == user_id)).first() if user_id else None
    return Adopted(token, email) if email else None


def signout(db: Session, *, token: str | None, now: datetime) -> None:
    if not isinstance(token, str) or not token:
        return
    with db.begin():
        db.exec(
            sa.update(AuthSession)
            .where(AuthSession.token_hash == hash_token(token), AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )


@dataclass(frozen=True)
class SignedIn:
    """Who a live session belongs to: all a request needs of its user."""

    id: str
    email: str
    is_operator: bool = False


_SESSIONS = AuthSession.__table__
_USERS = User.__table__
# Runs on every authenticated request: compiled once, straight on the driver (DriverQuery).
_LIVE_SESSION = DriverQuery(
    sa.select(
        _USERS.c.id,
        _USERS.c.email,
        _SESSIONS.c.expires_at < sa.bindparam("slide_before", type_=UTCDateTime),
        _USERS.c.is_operator,
    )
    .select_from(_SESSIONS.join(_USERS, _USERS.c.id == _SESSIONS.c.user_id))
    .where(
        _SESSIONS.c.token_hash == sa.bindparam("token_hash"),
        _SESSIONS.c.revoked_at.is_(None),
        _SESSIONS.c.expires_at > sa.bindparam("now", type_=UTCDateTime),
        # A suspension revokes the sessions in its transaction; this is the second lock.
        _USERS.c.suspended_at.is_(None),
    )
)


def lookup_session(
    db: Session, *, token: str | None, now: datetime
) -> tuple[SignedIn, bool] | None:
    """Who a live session token belongs to and whether its expiry is due to slide, or None.
    One SELECT in autocommit and no write: it takes no lock, on SQLite either."""
    if not isinstance(token, str) or not token or len(token) > 256:
        return None
    engine = db.get_bind()
    assert isinstance(engine, sa.Engine)
    params = {
        "token_hash": hash_token(token),
        "now": now,
        "slide_before": _slid_expiry(now) - _SLIDE_STEP,
    }
    row = _LIVE_SESSION.first(engine, params)
    if row is None:
        return None
    user_id, email, due, is_operator = row
    return SignedIn(id=user_id, email=email, is_operator=bool(is_operator)), bool(due)


def _slid_expiry(now: datetime) -> datetime:
    return now + timedelta(days=get_settings().ticketing_session_days)


def slide_session(db: Session, *, token: str, now: datetime) -> None:
    """Push a live session's expiry forward (at most once per _SLIDE_STEP; a no-op if it was
    revoked, expired or already slid in the meantime)."""
    new_expiry = _slid_expiry(now)
    with db.begin():
        db.exec(
            sa.update(AuthSession)
            .where(
                AuthSession.token_hash == hash_token(token),
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.expires_at < new_expiry - _SLIDE_STEP,
            )
            .values(expires_at=new_expiry)
        )


def current_user(db: Session, *, token: str | None, now: datetime) -> SignedIn | None:
    """The user a session token belongs to, or None; slides the expiry forward when due."""
    found = lookup_session(db, token=token, now=now)
    if found is None:
        return None
    user, due = found
    if due:
        assert token is not None
        slide_session(db, token=token, now=now)
    return user
