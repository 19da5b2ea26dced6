"""Delivering the ticket (SPEC §10): the seller's file and the buyer's e-ticket.

The one access rule is `entitled_order` (used by `readable_file`, `eticket_for_order` and
`verify_code`): a buyer is entitled to a ticket through an order that is complete, whose
e-ticket code has not been revoked (a refund, a later resale: transitions.revoke_e_tickets)
and whose charge was not refunded. Everyone else but the seller gets 403.

Attaching: while the ticket is available the seller attaches or replaces the file; once it is
reserved or sold it is frozen, except that a seller who attached nothing may attach once (the
buyer is told: the TicketFileAttached event says `afterSale`). One conditional UPDATE of the
ticket row decides, so two attaches after the sale cannot both win.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing_app import outbox
from ticketing_app.errors import (
    DomainError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    RuleViolation,
)
from ticketing_app.models import (
    Charge,
    ChargeStatus,
    Event,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
    User,
    iso,
)
from ticketing_app.services import event_listings, files
from ticketing_app.services.eticket_pdf import ETicketData, render_eticket_pdf
from ticketing_app.services.orders import own_order
from ticketing_app.services.tickets import load_ticket
from ticketing_app.services.views import ticket_view, verify_url

ONLY_SELLER_ATTACHES = "Only the seller can attach the ticket file"
NO_FILE = "No ticket file has been attached yet"
NOT_ENTITLED = "Only the seller and the buyer who paid can download the ticket file"
FROZEN = "The ticket file cannot be replaced once the ticket is sold"
FROZEN_RESERVED = "The ticket file cannot be replaced while the ticket is reserved"
CANCELLED = "Cannot attach a file to a cancelled listing"
NO_ETICKET = "This order has no e-ticket: it is not paid, or it was refunded"
CODE_NOT_VALID = "This ticket code is not valid"
SIGN_IN = "You must be signed in"

_TICKETS, _ORDERS, _CHARGES = Ticket.__table__, Order.__table__, Charge.__table__

# Orders that entitle their buyer to the ticket (the access rule, in SQL).
_REFUNDED = sa.exists().where(
    _CHARGES.c.order_id == _ORDERS.c.id, _CHARGES.c.status == ChargeStatus.REFUNDED
)
ENTITLING = sa.and_(
    _ORDERS.c.status == OrderStatus.COMPLETE,
    _ORDERS.c.e_ticket_code.is_not(None),
    _ORDERS.c.e_ticket_revoked_at.is_(None),
    ~_REFUNDED,
)


def _seller_ticket(db: Session, user_id: str, ticket_id: Any) -> Ticket:
    ticket = load_ticket(db, ticket_id)
    if ticket.user_id != user_id:
        raise Forbidden(ONLY_SELLER_ATTACHES)
    return ticket


def _refusal(ticket: Ticket) -> RuleViolation:
    if ticket.status == TicketStatus.CANCELLED:
        return RuleViolation(CANCELLED)
    return RuleViolation(FROZEN_RESERVED if ticket.status == TicketStatus.RESERVED else FROZEN)


def _may_attach(ticket: Ticket) -> bool:
    if ticket.status == TicketStatus.AVAILABLE:
        return True
    return ticket.status in (TicketStatus.RESERVED, TicketStatus.SOLD) and not ticket.has_file


def check_can_attach(db: Session, *, user_id: str, ticket_id: Any) -> None:
    """404, 403, then 400 if the ticket cannot take a file now — before the route reads an
    upload of up to 5 MB. Changes nothing; `attach_ticket_file` decides again."""
    with db.begin():
        ticket = _seller_ticket(db, user_id, ticket_id)
        if not _may_attach(ticket):
            raise _refusal(ticket)


def attach_ticket_file(
    db: Session,
    *,
    user_id: str,
    ticket_id: Any,
    data: bytes,
    filename: str | None,
    now: datetime,
    store: files.FileStore | None = None,
) -> Ticket:
    """Store the seller's file for the ticket (replacing the one it had, while available).
    404/403 first, then 400 on `file` (type, structure) or for the ticket's state; nothing is
    stored unless every check passes. Writes TicketFileAttached."""
    store = store or files.file_store()
    with db.begin():  # who asks, before what they sent
        _seller_ticket(db, user_id, ticket_id)
    meta = files.inspect_file(data, filename)  # outside the write transaction: CPU only
    with db.begin():
        ticket = _seller_ticket(db, user_id, ticket_id)
        had_file = ticket.has_file
        conn = db.connection()
        row = conn.execute(
            sa.update(_TICKETS)
            .where(
                _TICKETS.c.id == ticket.id,
                sa.or_(
                    _TICKETS.c.status == TicketStatus.AVAILABLE,
                    sa.and_(
                        _TICKETS.c.status.in_((TicketStatus.RESERVED, TicketStatus.SOLD)),
                        _TICKETS.c.has_file.is_(sa.false()),
                    ),
                ),
            )
            .values(has_file=True, version=_TICKETS.c.version + 1, updated_at=now)
            .returning(*_TICKETS.c)
        ).first()
        if row is None:  # reserved, sold with a file, or cancelled — now, in this transaction
            raise _refusal(load_ticket(db, ticket.id, refresh=True))
        stored = Ticket(**row._mapping)
        store.save(conn, ticket_id=stored.id, data=data, meta=meta, now=now)
        payload = {
            **ticket_view(stored),
            "fileName": meta.filename,
            "contentType": meta.content_type,
            "size": meta.size,
            "replaced": had_file,
            # Attached once the ticket was already reserved or sold: its buyer is to be told.
            "afterSale": stored.status != TicketStatus.AVAILABLE,
            "buyerOrderId": _sold_order_id(conn, stored.id),
        }
        outbox.write_rows(
            conn,
            [
                outbox.NewEvent("TicketFileAttached", "ticket", stored.id, stored.version, payload),
            ],
            now=now,
        )
    return stored


def list_ticket_with_file(
    db: Session,
    *,
    seller_id: str,
    data: bytes,
    filename: str | None,
    now: datetime,
    **listing: Any,
) -> tuple[Ticket, DomainError | None]:
    """The listing form with a file (decision 70): the file is inspected first, so a refused
    one (400 on `file`) lists nothing — no ticket, no new event; then the listing
    (`event_listings.list_ticket`, `listing` its arguments), then the attach. Returns the
    ticket and, if the attach itself refused after the listing (the ticket changed in
    between), why — the listing then exists without its file."""
    files.inspect_file(data, filename)
    ticket = event_listings.list_ticket(db, seller_id=seller_id, now=now, **listing)
    try:
        stored = attach_ticket_file(
            db, user_id=seller_id, ticket_id=ticket.id, data=data, filename=filename, now=now
        )
    except DomainError as exc:
        return ticket, exc
    return stored, None


def _sold_order_id(conn: sa.Connection, ticket_id: str) -> str | None:
    return conn.execute(
        sa.select(_ORDERS.c.id)
        .where(_ORDERS.c.ticket_id == ticket_id, _ORDERS.c.status == OrderStatus.COMPLETE)
        .order_by(_ORDERS.c.updated_at.desc())
        .limit(1)
    ).scalar()


def entitled_order(db: Session, *, user_id: str, ticket_id: str) -> str | None:
    """The id of `user_id`'s order that entitles them to the ticket, or None."""
    return (
        db.connection()
        .execute(
            sa.select(_ORDERS.c.id).where(
                _ORDERS.c.ticket_id == ticket_id, _ORDERS.c.user_id == user_id, ENTITLING
            )
        )
        .scalar()
    )


def readable_file(db: Session, *, user_id: str | None, ticket_id: Any) -> files.StoredFile:
    """THE access rule for a ticket's file (API and pages): 401 signed out, 404 unknown
    ticket, the seller always, the buyer through an entitling order, 403 anyone else (the
    buyer too before paying and after a refund), then 404 when no file is attached."""
    if user_id is None:
        raise NotAuthenticated(SIGN_IN)
    with db.begin():
        ticket = load_ticket(db, ticket_id)
        if ticket.user_id != user_id and not entitled_order(
            db, user_id=user_id, ticket_id=ticket.id
        ):
            raise Forbidden(NOT_ENTITLED)
        stored = files.file_store().load(db.connection(), ticket.id)
    if stored is None:
        raise NotFound(NO_FILE)
    return stored


def file_meta(db: Session, *, user_id: str | None, ticket_id: Any) -> files.FileMeta | None:
    """The name and type of a file `user_id` may read (for a page's link), else None."""
    try:
        return readable_file(db, user_id=user_id, ticket_id=ticket_id).meta
    except (NotAuthenticated, NotFound, Forbidden):
        return None


def mask_email(email: str) -> str:
    """`a***@example.com`: enough for a door check against an ID, not a mailing list."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


_ETICKET_ROWS = (
    sa.select(
        _ORDERS.c.id,
        _ORDERS.c.user_id,
        _ORDERS.c.e_ticket_code,
        _ORDERS.c.price_cents,
        _TICKETS.c.title,
        User.__table__.c.email,
        Event.__table__.c.name,
        Event.__table__.c.venue,
        Event.__table__.c.city,
        Event.__table__.c.starts_at,
    )
    .select_from(_ORDERS)
    .join(_TICKETS, _TICKETS.c.id == _ORDERS.c.ticket_id)
    .join(User.__table__, User.__table__.c.id == _ORDERS.c.user_id)
    .outerjoin(Event.__table__, Event.__table__.c.id == _TICKETS.c.event_id)
    .where(ENTITLING)
)


def _eticket(row: Any) -> ETicketData:
    starts_at = row.starts_at  # a Core join: naive UTC on SQLite
    if starts_at is not None and starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=UTC)
    return ETicketData(
        order_id=row.id,
        code=row.e_ticket_code,
        url=verify_url(row.e_ticket_code),
        title=row.title,
        price_cents=row.price_cents,
        buyer_email=row.email,
        event_name=row.name,
        venue=row.venue,
        city=row.city,
        starts_at=starts_at,
    )


def eticket_for_order(db: Session, *, user_id: str | None, order_id: Any) -> ETicketData:
    """The buyer's e-ticket: 401, 404 unknown order, 403 someone else's, 404 no valid
    e-ticket (not paid, refunded, resold)."""
    if user_id is None:
        raise NotAuthenticated(SIGN_IN)
    with db.begin():
        order = own_order(db, user_id, order_id)
        row = db.connection().execute(_ETICKET_ROWS.where(_ORDERS.c.id == order.id)).first()
    if row is None:
        raise NotFound(NO_ETICKET)
    return _eticket(row)


def verify_code(db: Session, code: Any) -> dict[str, Any]:
    """`{valid, title, event, holder}` for a valid code, else 404 (unknown or revoked)."""
    if not isinstance(code, str) or not 16 <= len(code) <= 64:
        raise NotFound(CODE_NOT_VALID)
    with db.begin():
        row = db.connection().execute(_ETICKET_ROWS.where(_ORDERS.c.e_ticket_code == code)).first()
    if row is None:
        raise NotFound(CODE_NOT_VALID)
    data = _eticket(row)
    event = None
    if data.event_name is not None:
        event = {"name": data.event_name, "venue": data.venue, "startsAt": iso(data.starts_at)}
    return {
        "valid": True,
        "title": data.title,
        "event": event,
        "holder": mask_email(data.buyer_email),
    }


def eticket_pdf_of_order(conn: sa.Connection, order_id: str) -> bytes | None:
    """The e-ticket PDF of a completed order while it is valid, else None: for the receipt
    email, which goes to the buyer's own address (no viewer to check), in UTC."""
    row = conn.execute(_ETICKET_ROWS.where(_ORDERS.c.id == order_id)).first()
    return None if row is None else render_eticket_pdf(_eticket(row))
