"""Links that show what they are (SPEC §9): the HTML of `/events/{id}` and `/tickets/{id}`
carries, without JavaScript, a `<title>`, a description, Open Graph tags and schema.org
`Event` JSON-LD (with an `offers` entry); `/sitemap.xml` lists the upcoming events.

The pages are a single-page app: the one-port production server (`reflex run --env prod`)
answers those paths with the same prerendered HTML shell for every id. `LinkPreviewMiddleware`
sits in front of it (added to the FastAPI app that Reflex mounts its own app under), asks for
that shell uncompressed and unconditional, and writes the head tags for the id into it. A
static export (`reflex export`) served by another web server gets the generic shell only
(README, "Deploy").
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing_app.db import read_session
from ticketing_app.errors import NotFound
from ticketing_app.models import utcnow
from ticketing_app.services import event_listings, events
from ticketing_app.services.events import EventSummary
from ticketing_app.services.validation import format_price
from ticketing_app.services.views import iso
from ticketing_app.settings import get_settings

SITE = "Ticketing"
CURRENCY = "USD"  # prices are shown in dollars (state/common.money)
_PAGE = re.compile(r"/(events|tickets)/([0-9a-fA-F-]{36})/?")
_TITLE = re.compile(rb"<title>.*?</title>", re.S | re.I)
_DESCRIPTION = re.compile(rb"<meta[^>]+name=[\"']description[\"'][^>]*>", re.I)
# Request headers that would let the static server answer with a body we cannot edit.
_DROP = {b"accept-encoding", b"if-none-match", b"if-modified-since", b"range"}

router = APIRouter(include_in_schema=False)


def base_url(scheme: str, host: str) -> str:
    configured = getattr(get_settings(), "public_url", None)
    return (configured or f"{scheme}://{host}").rstrip("/")


def _when(summary: EventSummary) -> str:
    return summary.event.starts_at.strftime("%a %d %b %Y, %H:%M UTC")


def _event_ld(summary: EventSummary, url: str, offer: dict[str, Any] | None) -> dict[str, Any]:
    event = summary.event
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.name,
        "startDate": iso(event.starts_at),
        "eventStatus": "https://schema.org/EventCancelled"
        if event.status == "cancelled"
        else "https://schema.org/EventScheduled",
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "location": {
            "@type": "Place",
            "name": event.venue,
            "address": {"@type": "PostalAddress", "addressLocality": event.city},
        },
        "url": url,
    }
    if offer is not None:
        data["offers"] = offer
    return data


def _offer(price_cents: int, url: str, in_stock: bool) -> dict[str, Any]:
    return {
        "@type": "Offer",
        "price": format_price(price_cents),
        "priceCurrency": CURRENCY,
        "availability": "https://schema.org/InStock" if in_stock else "https://schema.org/SoldOut",
        "url": url,
    }


def event_head(summary: EventSummary, url: str) -> tuple[str, str, dict[str, Any]]:
    event = summary.event
    title = f"{event.name} — {event.venue}, {event.city} · {SITE}"
    if summary.lowest_price_cents is not None:
        count = summary.tickets_available
        offer = _offer(summary.lowest_price_cents, url, True)
        tickets = f"{count} ticket{'s' if count != 1 else ''} from ${offer['price']}"
    else:
        offer, tickets = None, "No tickets on sale right now"
    description = f"{event.name} at {event.venue}, {event.city}, {_when(summary)}. {tickets}."
    return title, description, _event_ld(summary, url, offer)


def ticket_head(ticket: Any, summary: EventSummary | None, url: str) -> tuple[str, str, Any]:
    price = f"${format_price(ticket.price_cents)}"
    if summary is None:
        return f"{ticket.title} · {SITE}", f"{ticket.title}: {price} on {SITE}.", None
    event = summary.event
    title = f"{ticket.title} — {event.name} · {SITE}"
    description = (
        f"A ticket for {event.name} at {event.venue}, {event.city}, {_when(summary)}: {price}."
    )
    offer = _offer(ticket.price_cents, url, ticket.status == "available")
    return title, description, _event_ld(summary, url, offer)


def head_tags(path: str, origin: str) -> str | None:
    """The tags for `/events/{id}` or `/tickets/{id}`, or None (no such page, or no match)."""
    found = _PAGE.fullmatch(path)
    if found is None:
        return None
    kind, item_id = found.groups()
    url = f"{origin}/{kind}/{item_id.lower()}"
    try:
        with read_session() as db:
            if kind == "events":
                title, description, ld = event_head(events.get_event(db, item_id), url)
            else:
                ticket, summary = event_listings.ticket_with_event(db, item_id)
                title, description, ld = ticket_head(ticket, summary, url)
    except NotFound:
        return None
    esc = html.escape
    tags = [
        f"<title>{esc(title)}</title>",
        f'<meta name="description" content="{esc(description)}">',
        f'<meta property="og:title" content="{esc(title)}">',
        f'<meta property="og:description" content="{esc(description)}">',
        '<meta property="og:type" content="website">',
        f'<meta property="og:url" content="{esc(url)}">',
        f'<meta property="og:site_name" content="{SITE}">',
        '<meta name="twitter:card" content="summary">',
        f'<link rel="canonical" href="{esc(url)}">',
    ]
    if ld is not None:
        # "</" inside a string must not end the script element.
        text = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
        tags.append(f'<script type="application/ld+json">{text}</script>')
    return "".join(tags)


def inject(document: bytes, tags: str) -> bytes:
    """`document` with its own <title> and description replaced by `tags` (in <head>)."""
    document = _DESCRIPTION.sub(b"", _TITLE.sub(b"", document, count=1))
    encoded = tags.encode()
    marker = re.search(rb"<head[^>]*>", document, re.I)
    if marker is None:
        return encoded + document
    return document[: marker.end()] + encoded + document[marker.end() :]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


class LinkPreviewMiddleware:
    """Pure ASGI: every other request passes straight through (no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or _PAGE.fullmatch(scope["path"]) is None
        ):
            await self.app(scope, receive, send)
            return
        plain = {
            **scope,
            "method": "GET",  # a HEAD answers with the length of the edited body
            "headers": [(k, v) for k, v in scope["headers"] if k.lower() not in _DROP],
            # The body itself, not a file path for the server to send (granian offers it).
            "extensions": {
                k: v
                for k, v in (scope.get("extensions") or {}).items()
                if k not in ("http.response.pathsend", "http.response.zerocopysend")
            },
        }
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(plain, receive, capture)
        assert start is not None
        body = b"".join(chunks)
        headers = list(start.get("headers", []))
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if start["status"] == 200 and content_type.startswith(b"text/html"):
            origin = base_url(scope.get("scheme", "http"), _header(scope, b"host"))
            tags = await anyio.to_thread.run_sync(head_tags, scope["path"], origin)
            if tags is not None:
                body = inject(body, tags)
                headers = [
                    (k, v)
                    for k, v in headers
                    if k.lower() not in (b"content-length", b"etag", b"last-modified")
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                headers.append((b"cache-control", b"no-cache"))
        await send({**start, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


SITEMAP_MAX = 50_000  # the sitemap protocol's limit per file


@router.get("/sitemap.xml")
def sitemap(request: Request) -> Response:
    """The front door and every upcoming event (replaces the SitemapPlugin's static file on
    the one-port server)."""
    origin = base_url(request.url.scheme, request.headers.get("host", request.url.netloc))
    with read_session() as db:
        upcoming = events.sitemap_entries(db, now=utcnow(), limit=SITEMAP_MAX - 1)
    urls = [f"<url><loc>{xml_escape(origin)}/</loc><changefreq>hourly</changefreq></url>"]
    for event_id, updated_at in upcoming:
        urls.append(
            f"<url><loc>{xml_escape(origin)}/events/{event_id}</loc>"
            f"<lastmod>{iso(updated_at)}</lastmod></url>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(urls)
        + "</urlset>\n"
    )
    return Response(body, media_type="application/xml")
