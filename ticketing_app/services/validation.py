"""Input parsing shared by every entry point. Errors name the field they are about."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ticketing_app.errors import ValidationError
from ticketing_app.models import MAX_PRICE_CENTS

TITLE_MAX = 120
EMAIL_MAX = 254
PASSWORD_MIN, PASSWORD_MAX = 8, 128
_NOT_IN_EMAIL = r"@\s\x00-\x1f\x7f\ud800-\udfff"
_EMAIL_RE = re.compile(rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}]+$")
# Control characters and lone surrogates: unprintable, and NUL is rejected by PostgreSQL.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def parse_title(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("Title is required", "title")
    title = " ".join(value.split())
    if not title:
        raise ValidationError("Title is required", "title")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"Title must be at most {TITLE_MAX} characters", "title")
    if _CONTROL_RE.search(title):
        raise ValidationError("Title must not contain control characters", "title")
    return title


def parse_price(value: Any) -> int:
    """Decimal major units (20, 19.99, "19.99") to integer cents."""
    return parse_money(value, "price", "Price")


def parse_money(value: Any, field: str, label: str) -> int:
    """An amount in decimal major units to integer cents; errors name `field` as `label`."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{label} must be a number", field)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValidationError(f"{label} is required", field)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, int | str | Decimal):
        raise ValidationError(f"{label} must be a number", field)
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{label} must be a number", field) from None
    if not amount.is_finite():
        raise ValidationError(f"{label} must be a number", field)
    if amount <= 0:
        raise ValidationError(f"{label} must be greater than 0", field)
    if amount > Decimal(MAX_PRICE_CENTS) / 100:
        raise ValidationError(f"{label} must be at most 1,000,000", field)
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValidationError(f"{label} must have at most 2 decimal places", field)
    return int(cents)


def parse_text(value: Any, field: str, label: str, max_length: int) -> str:
    """Required one-line text: whitespace collapsed, 1..max_length characters, printable."""
    if not isinstance(value, str):
        raise ValidationError(f"{label} is required", field)
    text = " ".join(value.split())
    if not text:
        raise ValidationError(f"{label} is required", field)
    if len(text) > max_length:
        raise ValidationError(f"{label} must be at most {max_length} characters", field)
    if _CONTROL_RE.search(text):
        raise ValidationError(f"{label} must not contain control characters", field)
    return text


def format_price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def price_number(cents: int) -> int | float:
    """Cents as the API's decimal number: 2000 -> 20, 1999 -> 19.99."""
    return cents // 100 if cents % 100 == 0 else float(Decimal(cents) / 100)


def parse_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Email is required", "email")
    email = value.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL_RE.match(email):
        raise ValidationError("Email must be valid", "email")
    return email


def parse_password(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("Password is required", "password")
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise ValidationError(
            f"Password must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters", "password"
        )
    return value


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_uuid(value: Any) -> bool:
    """Ids are UUID strings in the canonical hyphenated form (either case); anything else can
    only be "not found". A regex: parsing with uuid.UUID cost more than the refusal's query."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None
