"""Input parsing shared by every entry point. Errors name the field they are about."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from ticketing_app.errors import ValidationError
from ticketing_app.models import MAX_PRICE_CENTS

TITLE_MAX = 120
EMAIL_MAX = 254
PASSWORD_MIN, PASSWORD_MAX = 8, 128
_NOT_IN_EMAIL = r"@\s\x00-\x1f\x7f-\x9f\ud800-\udfff"
_EMAIL_RE = re.compile(rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}]+$")
# Control characters (C0, DEL, C1) and lone surrogates: unprintable, and NUL is rejected by
# PostgreSQL.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Explicit text-direction controls: embeddings, overrides, isolates and marks. They reorder
# what is shown ("\u202egnp.exe" reads "exe.png"), and a one-line title never needs them.
_BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Invisible characters that carry no text: zero-width space, word joiner, invisible operators,
# BOM, soft hyphen, Mongolian vowel separator, interlinear annotation marks, tag characters.
# Removed (they come along with copy and paste). Zero-width (non-)joiners stay: Persian and
# Indic scripts and emoji sequences need them.
_INVISIBLE_RE = re.compile(
    "[\u00ad\u180e\u200b\u2060-\u2064\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
# Letters that render as blank space (Hangul fillers, the blank Braille pattern).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_UNSEEN_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me", "Cs"})


def _visible(char: str) -> bool:
    return char not in _BLANK_LETTERS and unicodedata.category(char) not in _UNSEEN_CATEGORIES


def parse_text(value: Any, field: str, label: str, max_length: int) -> str:
    """Required one-line text (titles, event names, venues, cities): trimmed, inner whitespace
    collapsed, NFC (the same text as typed, composed one way), invisible characters removed;
    direction controls, control characters and text with nothing visible in it refused."""
    if not isinstance(value, str):
        raise ValidationError(f"{label} is required", field)
    text = " ".join(_INVISIBLE_RE.sub("", unicodedata.normalize("NFC", value)).split())
    visible = f"{label} must contain visible letters, digits or symbols"
    if not text:
        if value.strip():  # only invisible characters
            raise ValidationError(visible, field)
        raise ValidationError(f"{label} is required", field)
    if len(text) > max_length:
        raise ValidationError(f"{label} must be at most {max_length} characters", field)
    if _CONTROL_RE.search(text):
        raise ValidationError(f"{label} must not contain control characters", field)
    if _BIDI_RE.search(text):
        raise ValidationError(f"{label} must not contain text-direction control characters", field)
    if not any(_visible(char) for char in text):
        raise ValidationError(visible, field)
    return text


def parse_title(value: Any) -> str:
    return parse_text(value, "title", "Title", TITLE_MAX)


_PRICE_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)


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
        # Decimal() also reads "١٢", "５", "1_000" and "1e3": an amount is written 0-9 with
        # at most one ".", as the page and the API document it.
        if not _PRICE_RE.fullmatch(value):
            if "_" in value or any(c.isdigit() and c not in "0123456789" for c in value):
                raise ValidationError(f"{label} must be written with the digits 0-9", field)
            raise ValidationError(f"{label} must be a number", field)
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


def format_price(cents: int) -> str:
    """Cents as a plain decimal amount with two places: 1999 -> "19.99"."""
    return f"{cents // 100}.{cents % 100:02d}"


def price_number(cents: int) -> int | float:
    """Cents as the API's decimal number: 2000 -> 20, 1999 -> 19.99."""
    return cents // 100 if cents % 100 == 0 else float(Decimal(cents) / 100)


def normalize_email(value: str) -> str:
    """One spelling per address, before validating and before the uniqueness check: NFKC
    (fullwidth "ａ" is "a", "＠" is "@"), invisible characters (format characters: zero-width,
    soft hyphen, BOM, direction marks, tags) removed, trimmed, lower-case."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip().lower()


def parse_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Email is required", "email")
    email = normalize_email(value)
    if not email:
        raise ValidationError("Email is required", "email")
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
