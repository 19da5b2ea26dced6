"""Environment configuration, read once (SPEC §2). A `.env` file may set any of these."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
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
    # PostgreSQL connections per process: pool_size kept open, up to + max_overflow under load.
    ticketing_db_pool_size: int = Field(default=20, ge=1)
    ticketing_db_max_overflow: int = Field(default=40, ge=0)
    ticketing_secure_cookies: bool = False
    # argon2id cost; OWASP's minimum (19 MiB, t=2, p=1) by default.
    ticketing_argon2_memory_kib: int = 19456
    ticketing_argon2_time_cost: int = 2
    ticketing_session_days: int = 7
    ticketing_signin_max_failures: int = 10
    ticketing_signin_window_seconds: int = 900
    # Outbox rows (domain_events) older than this are deleted hourly; 0 keeps them forever.
    # With NATS_URL set, only rows already published are ever deleted.
    ticketing_outbox_retention_days: int = Field(default=30, ge=0)

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
