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


VISIBLE_TITLE = "Title must contain visible letters, digits or symbols"


def _visible(char: str) -> bool:
    return char not in _BLANK_LETTERS and unicodedata.category(char) not in _UNSEEN_CATEGORIES


def parse_title(value: Any) -> str:
    """Trimmed, inner whitespace collapsed, NFC (the same text as typed, composed one way),
    invisible characters removed; direction controls, control characters and a title with
    nothing visible in it refused."""
    if not isinstance(value, str):
        raise ValidationError("Title is required", "title")
    title = " ".join(_INVISIBLE_RE.sub("", unicodedata.normalize("NFC", value)).split())
    if not title:
        if value.strip():  # only invisible characters
            raise ValidationError(VISIBLE_TITLE, "title")
        raise ValidationError("Title is required", "title")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"Title must be at most {TITLE_MAX} characters", "title")
    if _CONTROL_RE.search(title):
        raise ValidationError("Title must not contain control characters", "title")
    if _BIDI_RE.search(title):
        raise ValidationError("Title must not contain text-direction control characters", "title")
    if not any(_visible(char) for char in title):
        raise ValidationError(VISIBLE_TITLE, "title")
    return title


_PRICE_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def parse_price(value: Any) -> int:
    """Decimal major units (20, 19.99, "19.99") to integer cents."""
    if isinstance(value, bool) or value is None:
        raise ValidationError("Price must be a number", "price")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValidationError("Price is required", "price")
        # Decimal() also reads "١٢", "５", "1_000" and "1e3": a price is written 0-9 with
        # at most one ".", as the page and the API document it.
        if not _PRICE_RE.fullmatch(value):
            if "_" in value or any(c.isdigit() and c not in "0123456789" for c in value):
                raise ValidationError("Price must be written with the digits 0-9", "price")
            raise ValidationError("Price must be a number", "price")
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, int | str | Decimal):
        raise ValidationError("Price must be a number", "price")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValidationError("Price must be a number", "price") from None
    if not amount.is_finite():
        raise ValidationError("Price must be a number", "price")
    if amount <= 0:
        raise ValidationError("Price must be greater than 0", "price")
    if amount > Decimal(MAX_PRICE_CENTS) / 100:
        raise ValidationError("Price must be at most 1,000,000", "price")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValidationError("Price must have at most 2 decimal places", "price")
    return int(cents)


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
