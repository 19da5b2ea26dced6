"""SQLModel tables. The rules that races touch live here as constraints and indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class TicketStatus(StrEnum):
    """A listing's state (SPEC §3). The CHECK constraint, the API schema and the UI labels are
    derived from these members; compare and write them, never the bare strings."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"
    CANCELLED = "cancelled"


class OrderStatus(StrEnum):
    """An order's state: CREATED is the active reservation; the other three are final."""

    CREATED = "created"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    COMPLETE = "complete"


class ChargeStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


TICKET_STATUSES: tuple[str, ...] = tuple(TicketStatus)
ORDER_STATUSES: tuple[str, ...] = tuple(OrderStatus)
CHARGE_STATUSES: tuple[str, ...] = tuple(ChargeStatus)
# A PaymentIntent that succeeded at Stripe: kept, or given back.
SETTLED_CHARGE_STATUSES = (ChargeStatus.SUCCEEDED, ChargeStatus.REFUNDED)


class EventStatus(StrEnum):
    """A show's state (SPEC §9)."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


EVENT_STATUSES: tuple[str, ...] = tuple(EventStatus)


class DeliveryStatus(StrEnum):
    """An email's state (SPEC §11): waiting to be sent (or retried), sent, or given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class TokenPurpose(StrEnum):
    """What an emailed account token (account_tokens) is good for."""

    RESET = "reset"
    VERIFY_EMAIL = "verify_email"


class LedgerKind(StrEnum):
    """Why a seller-ledger row was written (SPEC §12)."""

    SALE = "sale"  # a completed order's proceeds (price − seller fee), pending
    RELEASE = "release"  # pending → available, 48 h after the event (or the sale)
    REFUND = "refund"  # the sale's proceeds taken back from the bucket they sit in
    PAYOUT = "payout"  # available → in payout: the seller asked for it
    PAYOUT_PAID = "payout_paid"  # in payout → paid out: an operator paid it


class LedgerBucket(StrEnum):
    """Where money sits; a bucket's balance is the SUM of its rows."""

    PENDING = "pending"
    AVAILABLE = "available"
    PAYOUT = "payout"  # requested, not yet paid
    PAID_OUT = "paid_out"


class PayoutStatus(StrEnum):
    REQUESTED = "requested"
    PAID = "paid"


LEDGER_KINDS: tuple[str, ...] = tuple(LedgerKind)
LEDGER_BUCKETS: tuple[str, ...] = tuple(LedgerBucket)
PAYOUT_STATUSES: tuple[str, ...] = tuple(PayoutStatus)
PAYOUT_REFERENCE_MAX = 200
DELIVERY_STATUSES: tuple[str, ...] = tuple(DeliveryStatus)
TOKEN_PURPOSES: tuple[str, ...] = tuple(TokenPurpose)
MAX_PRICE_CENTS = 100_000_000  # 1,000,000.00
EVENT_NAME_MAX, EVENT_VENUE_MAX, EVENT_CITY_MAX = 120, 120, 80
# Why a listing left the market without its seller cancelling it (tickets.withdrawn_reason).
WITHDRAWN_REASON_MAX = 200
E_TICKET_CODE_MAX = 64
TICKET_FILE_NAME_MAX = 255
AUDIT_REASON_MAX = 500


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """A time as the API and the domain events write it: ISO 8601 UTC, milliseconds, `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _is(column: str, value: str) -> sa.TextClause:
    return sa.text(f"{column} = '{value}'")


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    email: str = Field(sa_column=sa.Column(sa.String(320), nullable=False, unique=True))
    password_hash: str = Field(max_length=255)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    # When the user proved they read mail at `email` (the welcome or change link; SPEC §11).
    email_verified_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # SPEC §12: granted from the command line only (python -m ticketing_app.admin).
    is_operator: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # Set by an operator's suspension (no sign-in, sessions revoked); None when in good standing.
    suspended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),)


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=36)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class SigninFailure(SQLModel, table=True):
    """One failed sign-in; counted per email over a window for rate limiting."""

    __tablename__ = "signin_failures"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    created_at: datetime = Field(sa_column=_ts())

    __table_args__ = (sa.Index("ix_signin_failures_email_created", "email", "created_at"),)


class Event(SQLModel, table=True):
    """What tickets are for: a concert, a match (SPEC §9). Not a domain event (DomainEvent)."""

    __tablename__ = "events"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=EVENT_NAME_MAX)
    venue: str = Field(max_length=EVENT_VENUE_MAX)
    city: str = Field(max_length=EVENT_CITY_MAX)
    starts_at: datetime = Field(sa_column=_ts())
    status: str = Field(default="scheduled", max_length=16)
    # Name + venue (case folded, whitespace collapsed) + start: one event per key, whoever
    # creates it first (services/events.dedupe_key; the unique index decides races).
    dedupe_key: str = Field(sa_column=sa.Column(sa.String(700), nullable=False))
    created_by: str = Field(foreign_key="users.id", max_length=36)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())

    __table_args__ = (
        sa.CheckConstraint(_in("status", EVENT_STATUSES), name="ck_events_status"),
        sa.CheckConstraint(
            f"length(name) BETWEEN 1 AND {EVENT_NAME_MAX} "
            f"AND length(venue) BETWEEN 1 AND {EVENT_VENUE_MAX} "
            f"AND length(city) BETWEEN 1 AND {EVENT_CITY_MAX}",
            name="ck_events_text_lengths",
        ),
        sa.Index("uq_events_dedupe_key", "dedupe_key", unique=True),
        sa.Index("ix_events_status_starts", "status", "starts_at"),
    )


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    title: str = Field(max_length=120)
    price_cents: int
    user_id: str = Field(foreign_key="users.id", max_length=36)
    order_id: str | None = Field(default=None, max_length=36)
    status: str = Field(default=TicketStatus.AVAILABLE, max_length=16)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    # SPEC §9: the event it is for (None: a plain listing) and the price printed on it.
    event_id: str | None = Field(default=None, foreign_key="events.id", max_length=36)
    face_value_cents: int | None = Field(default=None)
    withdrawn_reason: str | None = Field(default=None, max_length=WITHDRAWN_REASON_MAX)
    # SPEC §10: whether the seller attached the ticket file (a `ticket_files` row), set in the
    # transaction that stores it, so lists say so without a read per ticket.
    has_file: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false())
    )

    __table_args__ = (
        sa.CheckConstraint(
            f"price_cents > 0 AND price_cents <= {MAX_PRICE_CENTS}", name="ck_tickets_price"
        ),
        sa.CheckConstraint(
            f"face_value_cents IS NULL OR "
            f"(face_value_cents > 0 AND face_value_cents <= {MAX_PRICE_CENTS})",
            name="ck_tickets_face_value",
        ),
        # "Cheapest available tickets of an event", and its count, from the index alone.
        sa.Index("ix_tickets_event_status_price", "event_id", "status", "price_cents", "id"),
        sa.CheckConstraint(_in("status", TICKET_STATUSES), name="ck_tickets_status"),
        sa.CheckConstraint(
            f"(status = '{TicketStatus.RESERVED}') = (order_id IS NOT NULL)",
            name="ck_tickets_reserved_order",
        ),
        sa.Index("ix_tickets_status_created", "status", "created_at"),
        sa.Index("ix_tickets_status_price", "status", "price_cents"),
        sa.Index("ix_tickets_user_created", "user_id", "created_at"),
    )


class Order(SQLModel, table=True):
    __tablename__ = "orders"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="users.id", max_length=36)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=36)
    price_cents: int
    status: str = Field(default=OrderStatus.CREATED, max_length=16)
    expires_at: datetime = Field(sa_column=_ts())
    failed_payment_attempts: int = Field(default=0)
    payment_intent_id: str | None = Field(default=None, max_length=255)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    # SPEC §10: the e-ticket's verification code, issued by transitions.complete (random,
    # 144 bits, unique), and when it stopped being valid (a refund, a later resale).
    e_ticket_code: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(E_TICKET_CODE_MAX), nullable=True)
    )
    e_ticket_revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # SPEC §12, snapshotted when the order is created: the buyer fee on top of the price, the
    # seller fee kept from the proceeds, and the total the buyer pays (what Stripe charges).
    fee_cents: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )
    seller_fee_cents: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )
    total_cents: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )

    __table_args__ = (
        sa.CheckConstraint("price_cents > 0", name="ck_orders_price"),
        sa.Index("uq_orders_e_ticket_code", "e_ticket_code", unique=True),
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name="ck_orders_status"),
        # Rule 4: at most one active order per ticket, whatever the application does.
        sa.Index(
            "uq_orders_one_active_per_ticket",
            "ticket_id",
            unique=True,
            sqlite_where=_is("status", OrderStatus.CREATED),
            postgresql_where=_is("status", OrderStatus.CREATED),
        ),
        sa.Index("ix_orders_status_expires", "status", "expires_at"),
        sa.Index("ix_orders_user_created", "user_id", "created_at"),
        sa.Index("ix_orders_ticket", "ticket_id"),
    )


class Charge(SQLModel, table=True):
    __tablename__ = "charges"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=36)
    status: str = Field(default=ChargeStatus.PENDING, max_length=16)
    amount_cents: int
    stripe_id: str | None = Field(default=None, max_length=255)
    stripe_refund_id: str | None = Field(default=None, max_length=255)
    failure_message: str | None = Field(default=None, max_length=1000)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="ck_charges_amount"),
        sa.CheckConstraint(_in("status", CHARGE_STATUSES), name="ck_charges_status"),
        # A PaymentIntent settles into at most one succeeded/refunded charge.
        sa.Index(
            "uq_charges_settled_intent",
            "stripe_id",
            unique=True,
            sqlite_where=sa.text(_in("status", SETTLED_CHARGE_STATUSES)),
            postgresql_where=sa.text(_in("status", SETTLED_CHARGE_STATUSES)),
        ),
    )


class StripeEvent(SQLModel, table=True):
    """Stripe webhook event ids already processed (duplicate deliveries change nothing)."""

    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=255)
    received_at: datetime = Field(sa_column=_ts())


class DomainEvent(SQLModel, table=True):
    """Transactional outbox (SPEC §7): written in the transaction that made the change."""

    __tablename__ = "domain_events"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(
        default_factory=new_id,
        sa_column=sa.Column(sa.String(36), nullable=False, unique=True),
    )
    type: str = Field(max_length=64)
    aggregate_type: str = Field(max_length=32)
    aggregate_id: str = Field(max_length=36)
    aggregate_version: int
    payload: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    published_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (
        sa.UniqueConstraint(
            "aggregate_type",
            "aggregate_id",
            "aggregate_version",
            name="uq_domain_events_aggregate_version",
        ),
        sa.Index("ix_domain_events_unpublished", "published_at", "seq"),
        sa.Index("ix_domain_events_aggregate", "aggregate_id", "seq"),
    )


class TicketFile(SQLModel, table=True):
    """The seller's ticket file (SPEC §10), at most one per ticket. The bytes live in `data`
    with the database store (services/files.py); another store keeps them elsewhere and
    leaves `data` NULL. Never served from a public folder: only by the access rule
    (services/delivery.readable_file)."""

    __tablename__ = "ticket_files"

    ticket_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=36)
    content_type: str = Field(max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    filename: str = Field(max_length=TICKET_FILE_NAME_MAX)
    data: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())

    __table_args__ = (sa.CheckConstraint("size > 0", name="ck_ticket_files_size"),)


class Delivery(SQLModel, table=True):
    """One email to send (SPEC §11): unique per (domain event, recipient, template), so a
    redelivered event never makes a second one. `context` holds the facts the template shows
    (and, until sent, the raw account token its link carries)."""

    __tablename__ = "deliveries"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    domain_event_id: str = Field(max_length=36)
    recipient: str = Field(max_length=320)  # the email address it goes to
    user_id: str | None = Field(default=None, max_length=36)
    template: str = Field(max_length=64)
    context: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_column=_ts())
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (
        sa.CheckConstraint(_in("status", DELIVERY_STATUSES), name="ck_deliveries_status"),
        sa.UniqueConstraint(
            "domain_event_id", "recipient", "template", name="uq_deliveries_event_recipient"
        ),
        sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )


class ConsumerPosition(SQLModel, table=True):
    """How far a consumer of the outbox has read (the last `domain_events.seq` it handled)."""

    __tablename__ = "consumer_positions"

    name: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(default=0)
    updated_at: datetime = Field(sa_column=_ts())


class AccountToken(SQLModel, table=True):
    """A single-use, expiring token emailed to a user (password reset, address check); only
    its SHA-256 is stored."""

    __tablename__ = "account_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=36)
    purpose: str = Field(max_length=16)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    new_email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (
        sa.CheckConstraint(_in("purpose", TOKEN_PURPOSES), name="ck_account_tokens_purpose"),
    )


class Watch(SQLModel, table=True):
    """ "Notify me" (SPEC §11): a user watches an event, optionally up to a maximum price."""

    __tablename__ = "watches"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="users.id", max_length=36)
    event_id: str = Field(foreign_key="events.id", max_length=36)
    max_price_cents: int | None = Field(default=None)
    created_at: datetime = Field(sa_column=_ts())

    __table_args__ = (
        sa.UniqueConstraint("user_id", "event_id", name="uq_watches_user_event"),
        sa.Index("ix_watches_event", "event_id"),
        sa.CheckConstraint(
            f"max_price_cents IS NULL OR (max_price_cents > 0 AND max_price_cents <= "
            f"{MAX_PRICE_CENTS})",
            name="ck_watches_max_price",
        ),
    )


class Notification(SQLModel, table=True):
    """An in-app notification (SPEC §11): one per (domain event, user, kind), like emails."""

    __tablename__ = "notifications"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="users.id", max_length=36)
    domain_event_id: str = Field(max_length=36)
    kind: str = Field(max_length=64)
    text: str = Field(max_length=400)
    link: str = Field(max_length=400)
    created_at: datetime = Field(sa_column=_ts())
    read_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (
        sa.UniqueConstraint(
            "domain_event_id", "user_id", "kind", name="uq_notifications_event_user_kind"
        ),
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
    )


class AuditEntry(SQLModel, table=True):
    """One operator action (SPEC §12): who, what, to which row, when and why. Written in the
    transaction that made the change (services/operators.audit), never updated or deleted."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: str = Field(foreign_key="users.id", max_length=36)
    action: str = Field(max_length=64)  # e.g. "user.suspend", "event.cancel"
    target_type: str = Field(max_length=32)  # "user", "ticket", "event", "order", "payout"
    target_id: str = Field(max_length=36)
    reason: str = Field(max_length=AUDIT_REASON_MAX)
    details: str = Field(default="{}", sa_column=sa.Column(sa.Text(), nullable=False))  # JSON
    created_at: datetime = Field(sa_column=_ts())

    __table_args__ = (
        sa.Index("ix_audit_log_created", "created_at"),
        sa.Index("ix_audit_log_target", "target_type", "target_id"),
    )


class Payout(SQLModel, table=True):
    """A seller's request to be paid their available balance (SPEC §12), and its payment by
    an operator with an external reference (a bank transfer's id: no Stripe Connect here,
    docs/money.md). `amount_cents` is what the request moved out of `available`; the balances
    themselves are only ever the ledger's sums."""

    __tablename__ = "payouts"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    seller_id: str = Field(foreign_key="users.id", max_length=36)
    amount_cents: int
    status: str = Field(default=PayoutStatus.REQUESTED, max_length=16)
    reference: str | None = Field(default=None, max_length=PAYOUT_REFERENCE_MAX)
    paid_by: str | None = Field(default=None, foreign_key="users.id", max_length=36)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=_ts())
    paid_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="ck_payouts_amount"),
        sa.CheckConstraint(_in("status", PAYOUT_STATUSES), name="ck_payouts_status"),
        sa.CheckConstraint(
            f"(status = '{PayoutStatus.PAID}') = (reference IS NOT NULL AND paid_at IS NOT NULL)",
            name="ck_payouts_paid_reference",
        ),
        sa.Index("ix_payouts_seller_created", "seller_id", "created_at"),
        sa.Index("ix_payouts_status_created", "status", "created_at"),
    )


class LedgerEntry(SQLModel, table=True):
    """One append-only row of a seller's ledger (SPEC §12): signed integer cents in one
    bucket, in the deployment's one currency. A movement between buckets is two rows (minus
    here, plus there) written together; never updated, never deleted. The unique indexes make
    each step of an order or a payout happen at most once, whoever retries it."""

    __tablename__ = "ledger_entries"

    id: int | None = Field(default=None, primary_key=True)  # insertion order: newest first
    seller_id: str = Field(foreign_key="users.id", max_length=36)
    kind: str = Field(max_length=16)
    bucket: str = Field(max_length=16)
    amount_cents: int
    order_id: str | None = Field(default=None, foreign_key="orders.id", max_length=36)
    payout_id: str | None = Field(default=None, foreign_key="payouts.id", max_length=36)
    created_at: datetime = Field(sa_column=_ts())

    __table_args__ = (
        sa.CheckConstraint(_in("kind", LEDGER_KINDS), name="ck_ledger_kind"),
        sa.CheckConstraint(_in("bucket", LEDGER_BUCKETS), name="ck_ledger_bucket"),
        sa.CheckConstraint("amount_cents <> 0", name="ck_ledger_amount"),
        sa.CheckConstraint(
            "(order_id IS NULL) <> (payout_id IS NULL)", name="ck_ledger_one_source"
        ),
        sa.Index(
            "uq_ledger_order_step",
            "order_id",
            "kind",
            "bucket",
            unique=True,
            sqlite_where=sa.text("order_id IS NOT NULL"),
            postgresql_where=sa.text("order_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_ledger_payout_step",
            "payout_id",
            "kind",
            "bucket",
            unique=True,
            sqlite_where=sa.text("payout_id IS NOT NULL"),
            postgresql_where=sa.text("payout_id IS NOT NULL"),
        ),
        sa.Index("ix_ledger_seller_id", "seller_id", "id"),
        sa.Index("ix_ledger_seller_bucket", "seller_id", "bucket", "amount_cents"),
    )
