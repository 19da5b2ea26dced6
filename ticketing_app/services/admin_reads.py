"""What operators look at (SPEC §12): users, listings, events and orders to act on, the
domain-event feed (the outbox, newest first) and the audit log. Reads only; each takes the
operator and re-checks the role like the actions do (services/admin.py)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing_app.errors import NotFound
from ticketing_app.models import (
    AuditEntry,
    Charge,
    ChargeStatus,
    DomainEvent,
    Event,
    Order,
    Ticket,
    User,
    iso,
)
from ticketing_app.services import operators
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.tickets import check_page
from ticketing_app.services.validation import price_number

_U = User.__table__
_T = Ticket.__table__
_O = Order.__table__
_E = Event.__table__
_C = Charge.__table__
_D = DomainEvent.__table__
_A = AuditEntry.__table__
SEARCH_MAX = 120


def _like(text: str | None) -> str | None:
    needle = " ".join((text or "").replace("\x00", "").split()).lower()[:SEARCH_MAX]
    if not needle:
        return None
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def admin_user_view(row: Any) -> dict[str, Any]:
    """A user as operators see it (SPEC §12: the changed user of suspend/reinstate)."""
    return {
        "id": row.id,
        "email": row.email,
        "isOperator": bool(row.is_operator),
        "suspended": row.suspended_at is not None,
        "suspendedAt": iso(row.suspended_at),
        "createdAt": iso(row.created_at),
    }


def search_users(
    db: Session, *, operator: SignedIn | None, q: str | None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Users whose email contains `q` (all without it), newest first."""
    operators.require_operator(operator)
    check_page(limit, offset)
    query = sa.select(_U).order_by(_U.c.created_at.desc(), _U.c.id).limit(limit).offset(offset)
    pattern = _like(q)
    if pattern:
        query = query.where(_U.c.email.like(pattern, escape="\\"))
    with db.begin():
        return [admin_user_view(r) for r in db.execute(query)]


def search_listings(
    db: Session, *, operator: SignedIn | None, q: str | None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Listings (any status) whose title or seller's email contains `q`, newest first."""
    operators.require_operator(operator)
    check_page(limit, offset)
    query = (
        sa.select(_T, _U.c.email.label("seller_email"), _E.c.name.label("event_name"))
        .select_from(_T.join(_U, _U.c.id == _T.c.user_id).outerjoin(_E, _E.c.id == _T.c.event_id))
        .order_by(_T.c.created_at.desc(), _T.c.id)
        .limit(limit)
        .offset(offset)
    )
    pattern = _like(q)
    if pattern:
        query = query.where(
            sa.or_(
                sa.func.lower(_T.c.title).like(pattern, escape="\\"),
                _U.c.email.like(pattern, escape="\\"),
            )
        )
    with db.begin():
        rows = db.execute(query).all()
    return [
        {
            "id": r.id,
            "title": r.title,
            "price": price_number(r.price_cents),
            "status": r.status,
            "sellerEmail": r.seller_email,
            "eventName": r.event_name or "",
            "withdrawnReason": r.withdrawn_reason or "",
            "createdAt": iso(r.created_at),
        }
        for r in rows
    ]


def search_events(
    db: Session, *, operator: SignedIn | None, q: str | None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Events of any status (past ones too) matching `q`, latest start first."""
    operators.require_operator(operator)
    check_page(limit, offset)
    query = sa.select(_E).order_by(_E.c.starts_at.desc(), _E.c.id).limit(limit).offset(offset)
    pattern = _like(q)
    if pattern:
        query = query.where(
            sa.or_(
                *(
                    sa.func.lower(c).like(pattern, escape="\\")
                    for c in (_E.c.name, _E.c.venue, _E.c.city)
                )
            )
        )
    with db.begin():
        rows = db.execute(query).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "venue": r.venue,
            "city": r.city,
            "startsAt": iso(r.starts_at),
            "status": r.status,
        }
        for r in rows
    ]


def admin_order_view(row: Any, *, buyer_email: str, title: str, charge: Any = None) -> dict:
    return {
        "id": row.id,
        "status": row.status,
        "price": price_number(row.price_cents),
        "buyerId": row.user_id,
        "buyerEmail": buyer_email,
        "ticketId": row.ticket_id,
        "ticketTitle": title,
        "charge": None
        if charge is None
        else {
            "status": charge.status,
            "amount": price_number(charge.amount_cents),
            "stripeRefundId": charge.stripe_refund_id,
        },
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def search_orders(
    db: Session, *, operator: SignedIn | None, q: str | None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Orders whose id, buyer's email or ticket title contains `q`, newest first, each with
    its settled charge (succeeded, or refunded) if any."""
    operators.require_operator(operator)
    check_page(limit, offset)
    settled = (
        sa.select(_C)
        .where(_C.c.status.in_((ChargeStatus.SUCCEEDED, ChargeStatus.REFUNDED)))
        .subquery()
    )
    query = (
        sa.select(
            _O,
            _U.c.email.label("buyer_email"),
            _T.c.title.label("title"),
            settled.c.status.label("charge_status"),
            settled.c.amount_cents.label("charge_amount"),
            settled.c.stripe_refund_id.label("charge_refund"),
        )
        .select_from(
            _O.join(_U, _U.c.id == _O.c.user_id)
            .join(_T, _T.c.id == _O.c.ticket_id)
            .outerjoin(settled, settled.c.order_id == _O.c.id)
        )
        .order_by(_O.c.created_at.desc(), _O.c.id)
        .limit(limit)
        .offset(offset)
    )
    pattern = _like(q)
    if pattern:
        query = query.where(
            sa.or_(
                _O.c.id.like(pattern, escape="\\"),
                _U.c.email.like(pattern, escape="\\"),
                sa.func.lower(_T.c.title).like(pattern, escape="\\"),
            )
        )
    with db.begin():
        rows = db.execute(query).all()
    out = []
    for r in rows:
        charge = None
        if r.charge_status is not None:
            charge = Charge(
                order_id=r.id,
                status=r.charge_status,
                amount_cents=r.charge_amount,
                stripe_refund_id=r.charge_refund,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
        out.append(admin_order_view(r, buyer_email=r.buyer_email, title=r.title, charge=charge))
    return out


def order_for_operator(db: Session, *, operator: SignedIn | None, order_id: str) -> dict:
    """One order as operators see it (the 200 body of a refund)."""
    operators.require_operator(operator)
    with db.begin():
        row = db.execute(
            sa.select(_O, _U.c.email.label("buyer_email"), _T.c.title.label("title"))
            .select_from(_O.join(_U, _U.c.id == _O.c.user_id).join(_T, _T.c.id == _O.c.ticket_id))
            .where(_O.c.id == order_id)
        ).first()
        if row is None:
            raise NotFound("Order not found")
        charge = db.execute(
            sa.select(_C)
            .where(
                _C.c.order_id == order_id,
                _C.c.status.in_((ChargeStatus.SUCCEEDED, ChargeStatus.REFUNDED)),
            )
            .order_by(_C.c.created_at.desc())
        ).first()
    return admin_order_view(row, buyer_email=row.buyer_email, title=row.title, charge=charge)


def domain_events(
    db: Session,
    *,
    operator: SignedIn | None,
    type: str | None = None,
    aggregate_type: str | None = None,
    aggregate_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The outbox (domain_events), newest first, optionally of one type / aggregate."""
    operators.require_operator(operator)
    check_page(limit, offset)
    query = sa.select(_D).order_by(_D.c.seq.desc()).limit(limit).offset(offset)
    if type:
        query = query.where(_D.c.type == type.strip())
    if aggregate_type:
        query = query.where(_D.c.aggregate_type == aggregate_type.strip())
    if aggregate_id:
        query = query.where(_D.c.aggregate_id == aggregate_id.strip().lower())
    with db.begin():
        rows = db.execute(query).all()
    return [
        {
            "seq": r.seq,
            "id": r.id,
            "type": r.type,
            "aggregateType": r.aggregate_type,
            "aggregateId": r.aggregate_id,
            "aggregateVersion": r.aggregate_version,
            "payload": json.loads(r.payload),
            "createdAt": iso(r.created_at),
            "publishedAt": iso(r.published_at),
        }
        for r in rows
    ]


def audit_log(
    db: Session,
    *,
    operator: SignedIn | None,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Every operator action, newest first: who, what, to which row, when and why."""
    operators.require_operator(operator)
    check_page(limit, offset)
    query = (
        sa.select(_A, _U.c.email.label("operator_email"))
        .select_from(_A.join(_U, _U.c.id == _A.c.operator_id))
        .order_by(_A.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if target_type:
        query = query.where(_A.c.target_type == target_type.strip())
    if target_id:
        query = query.where(_A.c.target_id == target_id.strip().lower())
    with db.begin():
        rows = db.execute(query).all()
    return [
        {
            "id": r.id,
            "operatorId": r.operator_id,
            "operatorEmail": r.operator_email,
            "action": r.action,
            "targetType": r.target_type,
            "targetId": r.target_id,
            "reason": r.reason,
            "details": json.loads(r.details or "{}"),
            "createdAt": iso(r.created_at),
        }
        for r in rows
    ]
