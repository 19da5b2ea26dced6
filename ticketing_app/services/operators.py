"""The operator role (SPEC §12): who may act from /admin and /api/admin, and the audit row
every operator action writes in its own transaction.

The role is a flag on the user, granted only from the command line (`python -m
ticketing_app.admin grant-operator EMAIL`); no page or route can grant it. Every admin route
and Reflex handler calls `require_operator` with the user its session resolves to now (the
session lookup reads the flag from the database on every call), so a revoked role or a
suspension takes effect on the next click.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app.errors import Forbidden, NotAuthenticated, NotFound, ValidationError
from ticketing_app.models import AUDIT_REASON_MAX, AuditEntry, User
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.validation import normalize_email

OPERATORS_ONLY = "Only operators can do this"
REASON_REQUIRED = "Say why (the reason is recorded and shown to the people affected)"
_AUDIT = AuditEntry.__table__


def require_operator(user: SignedIn | None) -> SignedIn:
    """The operator, or 401 (signed out) / 403 (anyone else)."""
    if user is None:
        raise NotAuthenticated("You must be signed in")
    if not user.is_operator:
        raise Forbidden(OPERATORS_ONLY)
    return user


def clean_reason(reason: Any, field: str = "reason") -> str:
    """An operator's reason: required, trimmed, at most AUDIT_REASON_MAX characters."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError(REASON_REQUIRED, field)
    reason = " ".join(reason.split())
    if len(reason) > AUDIT_REASON_MAX:
        raise ValidationError(f"Keep the reason under {AUDIT_REASON_MAX} characters", field)
    return reason


def audit(
    conn: sa.Connection | Session,
    *,
    operator_id: str,
    action: str,
    target_type: str,
    target_id: str,
    reason: str,
    now: datetime,
    **details: Any,
) -> None:
    """Record an operator action in the caller's open transaction (so it commits, or rolls
    back, with the change it describes)."""
    conn.execute(
        sa.insert(_AUDIT).values(
            operator_id=operator_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            details=json.dumps(details, sort_keys=True, default=str),
            created_at=now,
        )
    )


def set_operator(db: Session, *, email: str, operator: bool, now: datetime) -> User:
    """Grant or revoke the role (command line only). 404 for an unknown email."""
    with db.begin():
        user = db.exec(select(User).where(User.email == normalize_email(email))).first()
        if user is None:
            raise NotFound(f"No user with the email {email!r}")
        user.is_operator = operator
        user.updated_at = now
        db.add(user)
    db.refresh(user)
    return user
