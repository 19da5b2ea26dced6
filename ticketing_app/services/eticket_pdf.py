"""The e-ticket PDF (SPEC §10): a pure function of plain data — no database, no settings —
so the order route and the receipt email (notifications) render the same document.

A4, made with fpdf2; the QR code (segno) holds the verification URL. fpdf2's built-in
Helvetica covers Latin-1 only: other characters are printed as their closest Latin-1 form
or `?` (the verification page shows the exact title).
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF


@dataclass(frozen=True)
class ETicketData:
    """Everything the e-ticket prints."""

    order_id: str
    code: str
    url: str
    title: str
    price_cents: int
    buyer_email: str
    event_name: str | None = None
    venue: str | None = None
    city: str | None = None
    starts_at: datetime | None = None


_PUNCTUATION = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
                              "\u201c": '"', "\u201d": '"', "\u2026": "..."})  # fmt: skip


def _latin1(text: str) -> str:
    """Each character as is if Latin-1 has it, else without its accents, else `?`."""
    out = []
    for char in unicodedata.normalize("NFC", text).translate(_PUNCTUATION):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


def start_text(starts_at: datetime, tz: ZoneInfo | None) -> str:
    """The start in `tz` (named), or in UTC saying so: the event's own zone is not known."""
    if tz is None:
        return starts_at.astimezone(UTC).strftime("%A %d %B %Y, %H:%M UTC")
    local = starts_at.astimezone(tz)
    return local.strftime(f"%A %d %B %Y, %H:%M ({tz.key}, UTC%z)")


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


def render_eticket_pdf(data: ETicketData, tz: ZoneInfo | None = None) -> bytes:
    """The A4 e-ticket: event, venue, start time, ticket title, order id, price paid, the
    buyer's email and a QR code of `data.url`."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(_latin1(f"E-ticket: {data.title}"))
    pdf.set_creator("Ticketing")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, size: float, style: str = "", height: float = 8) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.multi_cell(width, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    line("E-TICKET", 11, "B", 6)
    pdf.ln(2)
    line(data.event_name or data.title, 24, "B", 11)
    if data.venue:
        line(f"{data.venue}, {data.city}" if data.city else data.venue, 14)
    if data.starts_at is not None:
        line(start_text(data.starts_at, tz), 14)
        if tz is None:
            line("Times are in UTC: check the local time of the venue.", 9, "", 5)
    pdf.ln(4)
    rows = [
        ("Ticket", data.title),
        ("Order", data.order_id),
        ("Price paid", f"{data.price_cents // 100:,}.{data.price_cents % 100:02d}"),
        ("Holder", data.buyer_email),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.cell(35, 8, label)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(width - 35, 8, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    side = 70
    pdf.image(io.BytesIO(qr_png(data.url)), x=(pdf.w - side) / 2, y=pdf.get_y(), w=side, h=side)
    pdf.set_y(pdf.get_y() + side + 2)
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(width, 5, _latin1(data.url), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    line("Show this QR code at the door. It is valid for one holder; a refund or a resale", 9)
    line("of this ticket makes it invalid. Scan it to check: the page shows the holder.", 9)
    return bytes(pdf.output())
