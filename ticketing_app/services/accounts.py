"""Account changes (SPEC §11): password change and reset, email change and verification.

Every change bumps the user's version and writes a `UserUpdated` domain event whose `change`
says what happened (`password_changed`, `password_reset`, `email_change_requested`,
`email_changed`, `email_verified`); the notifications consumer turns the email ones into mail.
Emailed tokens are random (256 bits), stored as SHA-256 only, single use (a conditional UPDATE
of `used_at`: of two uses exactly one wins) and expiring. Slow password hashing happens outside
the transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.errors import NotAuthenticated, ValidationError
from ticketing_app.models import AccountToken, AuthSession, TokenPurpose, User
from ticketing_app.services import notifications
from ticketing_app.services.auth import _dummy_hash, hash_token, password_context
from ticketing_app.services.validation import parse_email, parse_password

WRONG_PASSWORD = "Password is incorrect"
WRONG_CURRENT_PASSWORD = "Current password is incorrect"
BAD_TOKEN = "This link is invalid, already used or expired"
EMAIL_IN_USE = "Email in use"
SAME_EMAIL = "This is already your email address"


def _check_password(password: Any, password_hash: str, message: str, field: str) -> None:
    if not isinstance(password, str) or not password:
        raise ValidationError(message, field)
    if not password_context().verify(password[:1024], password_hash):
        raise ValidationError(message, field)


def _load(db: Session, user_id: str) -> User:
    with db.begin():
        user = db.get(User, user_id)
    if user is None:
        raise NotAuthenticated("You must be signed in")
    return user


def _user_updated(db: Session, user: User, change: str, now: datetime, **extra: Any) -> None:
    outbox.record(
        db,
        type="UserUpdated",
        aggregate_type="user",
        aggregate_id=user.id,
        aggregate_version=user.version,
        payload={"id": user.id, "email": user.email, "change": change, "updatedAt": now, **extra},
        now=now,
    )


def _bump(db: Session, user_id: str, version: int, now: datetime, **values: Any) -> User:
    """Apply `values` to the user if still at `version` (else a concurrent change won: 400)."""
    changed = db.exec(
        sa.update(User)
        .where(User.id == user_id, User.version == version)
        .values(version=User.version + 1, updated_at=now, **values)
    ).rowcount
    if changed != 1:
        raise ValidationError("Your account changed meanwhile; please try again")
    user = db.get(User, user_id, populate_existing=True)
    assert user is not None
    return user


def _revoke_sessions(db: Session, user_id: str, now: datetime, keep_token: str | None) -> None:
    query = sa.update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep_token:
        query = query.where(AuthSession.token_hash != hash_token(keep_token))
    db.exec(query.values(revoked_at=now))


def change_password(
    db: Session,
    *,
    user_id: str,
    current_password: Any,
    new_password: Any,
    keep_token: str | None,
    now: datetime,
) -> User:
    """Current password required; every other session of the user is revoked."""
    user = _load(db, user_id)
    _check_password(current_password, user.password_hash, WRONG_CURRENT_PASSWORD, "currentPassword")
    try:
        new_password = parse_password(new_password)
    except ValidationError as exc:
        raise ValidationError(exc.message, "newPassword") from None
    new_hash = password_context().hash(new_password)
    with db.begin():
        user = _bump(db, user.id, user.version, now, password_hash=new_hash)
        _revoke_sessions(db, user.id, now, keep_token)
        _user_updated(db, user, "password_changed", now)
    return user


def change_email(
    db: Session, *, user_id: str, password: Any, email: Any, now: datetime
) -> tuple[User, str]:
    """Password required. The address changes once the link sent to it is followed
    (`verify_email`); until then the user signs in with the old one. Returns (user, new)."""
    user = _load(db, user_id)
    _check_password(password, user.password_hash, WRONG_PASSWORD, "password")
    new_email = parse_email(email)
    if new_email == user.email:
        raise ValidationError(SAME_EMAIL, "email")
    with db.begin():
        if db.exec(select(User.id).where(User.email == new_email)).first():
            raise ValidationError(EMAIL_IN_USE, "email")
        user = _bump(db, user.id, user.version, now)
        _user_updated(db, user, "email_change_requested", now, pendingEmail=new_email)
    return user, new_email


def _take_token(db: Session, token: Any, purpose: TokenPurpose, now: datetime) -> AccountToken:
    """Use a live token of `purpose` (once): inside the caller's transaction."""
    if not isinstance(token, str) or not token or len(token) > 256:
        raise ValidationError(BAD_TOKEN, "token")
    row = db.exec(
        sa.update(AccountToken)
        .where(
            AccountToken.token_hash == hash_token(token),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken.id)
    ).scalar_one_or_none()
    if row is None:
        raise ValidationError(BAD_TOKEN, "token")
    found = db.get(AccountToken, row, populate_existing=True)
    assert found is not None
    return found


def verify_email(db: Session, *, token: Any, now: datetime) -> User:
    """Follow a verification link: confirms the address (welcome) or switches to the new one
    (change; the old address is then told)."""
    with db.begin():
        used = _take_token(db, token, TokenPurpose.VERIFY_EMAIL, now)
        user = db.get(User, used.user_id, populate_existing=True)
        assert user is not None
        if used.new_email and used.new_email != user.email:
            taken = db.exec(
                select(User.id).where(User.email == used.new_email, User.id != user.id)
            ).first()
            if taken:
                raise ValidationError(EMAIL_IN_USE, "email")
            previous = user.email
            user = _bump(
                db, user.id, user.version, now, email=used.new_email, email_verified_at=now
            )
            _user_updated(db, user, "email_changed", now, previousEmail=previous)
        else:
            user = _bump(db, user.id, user.version, now, email_verified_at=now)
            _user_updated(db, user, "email_verified", now)
    return user


def request_password_reset(db: Session, *, email: Any, now: datetime) -> None:
    """Queue a reset email. The same work whatever the address: no lookup here (the sender
    finds the account later, off the request), one INSERT, and one password hash (the same
    cost as the confirm step) so timing tells nothing either."""
    address = parse_email(email)  # a malformed address says nothing about accounts
    password_context().verify(secrets.token_urlsafe(16), _dummy_hash())
    with db.begin():
        notifications.request_reset(db.connection(), email=address, now=now)


def confirm_password_reset(db: Session, *, token: Any, password: Any, now: datetime) -> User:
    """Set a new password from a reset link (single use, 1 hour); every session is revoked."""
    new_password = parse_password(password)
    new_hash = password_context().hash(new_password)
    with db.begin():
        used = _take_token(db, token, TokenPurpose.RESET, now)
        user = db.get(User, used.user_id, populate_existing=True)
        assert user is not None
        user = _bump(db, user.id, user.version, now, password_hash=new_hash)
        _revoke_sessions(db, user.id, now, keep_token=None)
        _user_updated(db, user, "password_reset", now)
    return user


def sign_out_everywhere(db: Session, *, user_id: str, now: datetime) -> int:
    """End every session of the user (this browser's too); returns how many were live."""
    with db.begin():
        return db.exec(
            sa.update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount


def prune_tokens(db: Session, *, before: datetime) -> int:
    """Delete account tokens used, or expired, before `before` (hourly housekeeping). A link
    with a deleted token is refused like a used one: 400 on `token`."""
    table = AccountToken.__table__
    with db.begin():
        return (
            db.connection()
            .execute(
                sa.delete(table).where(
                    sa.or_(
                        table.c.used_at < before,
                        sa.and_(table.c.used_at.is_(None), table.c.expires_at < before),
                    )
                )
            )
            .rowcount
        )
