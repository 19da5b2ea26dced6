"""Real files for the delivery tests, made by the libraries that make such files (Pillow,
fpdf2) — and the bad ones SPEC §10 says are refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from fpdf import FPDF
from PIL import Image


def png(size: tuple[int, int] = (40, 20), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, format="JPEG")
    return buffer.getvalue()


def pdf(text: str = "Admit one") -> bytes:
    document = FPDF()
    document.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # the same bytes every call
    document.add_page()
    document.set_font("Helvetica", size=12)
    document.cell(0, 10, text)
    return bytes(document.output())


HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def truncated_png() -> bytes:
    data = png((200, 200))
    return data[: len(data) // 2]


def oversized_pdf(limit: int) -> bytes:
    """A PDF of exactly `limit` + 1 bytes (a comment pads it before the final %%EOF)."""
    body = pdf()
    head, tail = body[:-6], body[-6:]
    padding = limit + 1 - len(body)
    return head + b"%" + b"x" * (padding - 2) + b"\n" + tail
