"""Environment configuration, read once (SPEC §2). A `.env` file may set any of these."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_STRIPE_SECRET_KEY = "sk_test_local_ticketing"
LOCAL_STRIPE_PUBLISHABLE_KEY = "pk_test_local_ticketing"
LOCAL_STRIPE_WEBHOOK_SECRET = "whsec_local_ticketing"
# Currencies Stripe counts in whole units: prices are stored in cents, so these cannot be used.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///ticketing.db"
    redis_url: str | None = None
    nats_url: str | None = None
    # JetStream stream and subject prefix the outbox relay publishes to (tests use unique ones).
    nats_stream: str = "TICKETING"
    nats_subject_prefix: str = "ticketing"
    stripe_secret_key: str = LOCAL_STRIPE_SECRET_KEY
    stripe_publishable_key: str = LOCAL_STRIPE_PUBLISHABLE_KEY
    stripe_webhook_secret: str = LOCAL_STRIPE_WEBHOOK_SECRET
    stripe_api_base: str | None = None
    stripe_js_url: str | None = None
    ticketing_lock_seconds: int = Field(default=900, ge=1)
    # After a buyer's reservation of a ticket ends unpaid, how long before that buyer may
    # reserve the same ticket again (unset: the lock window; 0: no cooldown).
    ticketing_rehold_cooldown_seconds: int | None = Field(default=None, ge=0)
    # PostgreSQL connections per process: pool_size kept open, up to + max_overflow under load.
    ticketing_db_pool_size: int = Field(default=20, ge=1)
    ticketing_db_max_overflow: int = Field(default=40, ge=0)
    # The public market's first pages from memory (ticketing_app/readmodel.py); off: every
    # read goes to the database. At most this often a read checks max(domain_events.seq) for
    # changes whose events did not reach this worker (the staleness bound for those).
    ticketing_read_model: bool = True
    ticketing_read_model_check_seconds: float = Field(default=1.0, gt=0)
    # Cache-Control max-age of anonymous public reads (lists, an event, a ticket); 0: a CDN
    # may store them but revalidates every time (ETag, 304).
    ticketing_public_max_age: int = Field(default=0, ge=0)
    # SPEC §9: a listing's price may be at most this % of its face value; 0 turns the cap off.
    ticketing_price_cap_percent: int = Field(default=120, ge=0)
    # SPEC §12 fees, in percent of the ticket's price (decimals allowed, e.g. 2.5): the buyer
    # fee is added to the all-in total the buyer pays; the seller fee is kept from proceeds.
    ticketing_buyer_fee_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    ticketing_seller_fee_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    # SPEC §9 hoarding limits (0 turns one off): reservations one buyer holds at once, and
    # tickets one buyer holds or has bought for one event.
    ticketing_max_active_orders: int = Field(default=3, ge=0)
    ticketing_max_tickets_per_event: int = Field(default=8, ge=0)
    ticketing_secure_cookies: bool = False
    # The site's address (links in emails, QR codes) and the one origin whose pages may call
    # the backend with the visitor's cookie (CORS) and open its socket; more, comma-separated,
    # in TICKETING_ALLOWED_ORIGINS (e.g. a static frontend on another host).
    public_url: str = "http://localhost:3000"
    ticketing_allowed_origins: str = ""
    # Email (SPEC §11): `smtp://user:pass@host:587` (STARTTLS when the server offers it) or
    # `smtps://user:pass@host:465` (implicit TLS); unset, each email is written as an .eml file
    # to TICKETING_MAIL_DIR instead.
    smtp_url: str | None = None
    ticketing_mail_from: str = "Ticketing <no-reply@ticketing.local>"
    ticketing_mail_dir: str = "var/mail"
    # argon2id cost; OWASP's minimum (19 MiB, t=2, p=1) by default.
    ticketing_argon2_memory_kib: int = 19456
    ticketing_argon2_time_cost: int = 2
    ticketing_session_days: int = 7
    # Per seller (services/tickets.create_ticket): new listings in any hour, and listings for
    # sale at once; 0 turns a limit off.
    ticketing_max_listings_per_hour: int = Field(default=30, ge=0)
    ticketing_max_available_listings: int = Field(default=100, ge=0)
    ticketing_signin_max_failures: int = 10
    ticketing_signin_window_seconds: int = 900
    # Known-device cookies (services/known_device.py): a browser that signed in to an account
    # before is not held by that email's limit, only by its own per-device one. The HMAC
    # secret must be the same on every worker; unset, each process makes its own.
    ticketing_signin_device_max_failures: int = Field(default=10, ge=1)
    ticketing_device_cookie_secret: str = ""
    ticketing_device_cookie_days: int = Field(default=365, ge=1)
    # Outbox rows (domain_events) older than this are deleted hourly; 0 keeps them forever.
    # With NATS_URL set, only rows already published are ever deleted.
    ticketing_outbox_retention_days: int = Field(default=30, ge=0)
    # Ids of Stripe events already handled (`stripe_events`, the webhook's de-duplication)
    # older than this are deleted hourly; 0 keeps them forever. Stripe redelivers an event
    # for up to 3 days, so anything shorter than 4 is refused.
    ticketing_stripe_event_retention_days: int = Field(default=30, ge=0)
    # Emails sent or given up (`deliveries`), and in-app notifications the user has read, older
    # than this are deleted hourly — only once their domain event has left the outbox, so a
    # replay can never send or show them again; 0 keeps them. Pending emails and unread
    # notifications are never deleted.
    ticketing_delivery_retention_days: int = Field(default=90, ge=0)
    ticketing_notification_retention_days: int = Field(default=90, ge=0)
    # Ticket-file uploads (PUT /api/tickets/{id}/file) read, parsed and stored at once per
    # worker; the others wait before a byte of their body is read (TCP holds them back), at
    # most TICKETING_UPLOAD_WAIT_SECONDS, then 503 with Retry-After.
    ticketing_upload_concurrency: int = Field(default=1, ge=1)
    ticketing_upload_wait_seconds: float = Field(default=30, gt=0)
    # Account tokens (reset and verification links) used or expired longer ago than this are
    # deleted hourly; 0 keeps them.
    ticketing_account_token_retention_days: int = Field(default=7, ge=0)

    @model_validator(mode="after")
    def _no_public_webhook_secret_with_live_keys(self) -> Settings:
        """Refuse to start with live Stripe keys and the webhook secret published in this
        repository: anyone could sign forged events that the webhook would act on."""
        live = self.stripe_secret_key.startswith(("sk_live_", "rk_live_"))
        if live and self.stripe_webhook_secret.strip() in ("", LOCAL_STRIPE_WEBHOOK_SECRET):
            raise ValueError(
                "STRIPE_WEBHOOK_SECRET must be set to the endpoint's signing secret (whsec_…) "
                "when STRIPE_SECRET_KEY is a live key; the default is public"
            )
        if 0 < len(self.ticketing_device_cookie_secret) < 32:
            raise ValueError("TICKETING_DEVICE_COOKIE_SECRET must be at least 32 characters")
        if origin_of(self.public_url) is None:
            raise ValueError(f"PUBLIC_URL must be an http(s) URL, not {self.public_url!r}")
        for entry in filter(None, (e.strip() for e in self.ticketing_allowed_origins.split(","))):
            if origin_of(entry) is None:
                raise ValueError(
                    "TICKETING_ALLOWED_ORIGINS must list http(s) origins "
                    f"(https://tickets.example), not {entry!r}"
                )
        if self.smtp_url and urlsplit(self.smtp_url).scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must be smtp://… or smtps://…")
        if 0 < self.ticketing_stripe_event_retention_days < 4:
            raise ValueError(
                "TICKETING_STRIPE_EVENT_RETENTION_DAYS must be 0 (keep) or at least 4: "
                "Stripe redelivers an event for up to 3 days"
            )
        return self

    @property
    def allowed_origins(self) -> list[str]:
        """Origins (`scheme://host[:port]`, as browsers send them) allowed to make credentialed
        cross-origin requests and to open the Socket.IO connection: PUBLIC_URL's and
        TICKETING_ALLOWED_ORIGINS'. A loopback PUBLIC_URL also allows its other loopback
        names on the same port (`make run` is opened as localhost or 127.0.0.1)."""
        origins: list[str] = []
        for url in [self.public_url, *self.ticketing_allowed_origins.split(",")]:
            origin = origin_of(url)
            if origin and origin not in origins:
                origins.append(origin)
        public = urlsplit(self.public_url.strip())
        if public.hostname in LOOPBACK_NAMES:
            port = f":{public.port}" if public.port else ""
            for name in ("localhost", "127.0.0.1", "[::1]"):
                alias = f"{public.scheme}://{name}{port}"
                if alias not in origins:
                    origins.append(alias)
        return origins

    @property
    def rehold_cooldown_seconds(self) -> int:
        if self.ticketing_rehold_cooldown_seconds is None:
            return self.ticketing_lock_seconds
        return self.ticketing_rehold_cooldown_seconds

    # The one currency of this deployment (ISO 4217, two decimals): prices, charges, the pages.
    ticketing_currency: str = "USD"

    @field_validator("ticketing_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError("TICKETING_CURRENCY must be a three-letter ISO 4217 code, e.g. USD")
        if code in ZERO_DECIMAL_CURRENCIES:
            raise ValueError(f"TICKETING_CURRENCY {code} has no cents; use a two-decimal currency")
        return code

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def stripe_test_mode(self) -> bool:
        return self.stripe_secret_key.startswith("sk_test_") or bool(self.stripe_api_base)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`https://Tickets.example:443/x` -> `https://tickets.example`; None if not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    keep_port = port is not None and port != DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if keep_port else "")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
