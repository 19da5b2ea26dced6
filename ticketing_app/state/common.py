"""What every page state needs: who is signed in (from the cookie), sign-in redirects, the
cookie bridge script, and display helpers. Identity never comes from event arguments."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import reflex as rx
from reflex.istate.data import RouterData
from reflex_base.config import get_config

from ticketing_app.db import write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import OrderStatus, TicketStatus, utcnow
from ticketing_app.services import auth
from ticketing_app.services.views import iso
from ticketing_app.web_session import safe_next, token_from_cookie_header

STATUS_LABELS: dict[str, str] = {
    TicketStatus.AVAILABLE: "Available",
    TicketStatus.RESERVED: "Reserved",
    TicketStatus.SOLD: "Sold",
    TicketStatus.CANCELLED: "Cancelled",
    OrderStatus.CREATED: "Awaiting payment",
    OrderStatus.EXPIRED: "Expired",
    OrderStatus.COMPLETE: "Paid",
}
assert set(STATUS_LABELS) == {*TicketStatus, *OrderStatus}, "a status without a label"


def session_token(state: rx.State, router: RouterData | None = None) -> str | None:
    """The session token the WebSocket handshake carried (HttpOnly cookie). `router`: the
    state's `router`, when the caller already has it (Reflex builds it anew on each read)."""
    return token_from_cookie_header((router or state.router).headers.cookie)


def signed_in_user(state: rx.State) -> dict[str, str] | None:
    """`{id, email}` of the user whose session cookie this client sent, re-checked in the DB."""
    token = session_token(state)
    if not token:
        return None
    with write_session() as db:
        user = auth.current_user(db, token=token, now=utcnow())
    return auth.user_view(user) if user is not None else None


def signed_in_operator(state: rx.State) -> auth.SignedIn | None:
    """The operator whose session cookie this client sent, re-checked in the DB on every
    call; None for anyone else (every /admin handler starts with it, SPEC §12)."""
    token = session_token(state)
    if not token:
        return None
    with write_session() as db:
        user = auth.current_user(db, token=token, now=utcnow())
    return user if user is not None and user.is_operator else None


def current_path(state: rx.State) -> str:
    url = state.router.url
    path = url.path.rstrip("/") or "/"  # the static build serves `/orders/` for `/orders`
    return path + (f"?{url.query}" if url.query else "")


def signin_redirect(state: rx.State) -> rx.event.EventSpec:
    return rx.redirect(f"/signin?next={quote(current_path(state), safe='/')}")


def field_errors(exc: DomainError, **checks: Callable[[], object]) -> dict[str, str]:
    """All of a form's field errors at once. The service stops at its first (`exc`, raised
    after its own access checks); then every field's check runs for its message, so the
    person fixes everything in one go. `exc` without a field is kept under "" (the form)."""
    if not exc.field:
        return {"": exc.message}
    errors: dict[str, str] = {}
    for field, check in checks.items():
        try:
            check()
        except DomainError as other:
            errors[field] = other.message
    errors.setdefault(exc.field, exc.message)
    return errors


def focus_first(errors: dict[str, str], ids: dict[str, str]) -> rx.event.EventSpec | None:
    """Move focus to the first field (in `ids` order) that has an error."""
    for field, element_id in ids.items():
        if field in errors:
            return rx.set_focus(element_id)
    return None


def has_next_page(page: int, total: int, page_size: int) -> bool:
    """Whether a list showing `page` (from 0) of `total` has a page after it (the pagers
    work the same out in the browser: components/pager.py)."""
    return (page + 1) * page_size < total


def server_now() -> str:
    return iso(utcnow()) or ""


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d{1,2}$")
_GROUPED_COMMAS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+$")


def price_input(value: Any) -> Any:
    """What a person typed in a price box, as the services read prices ("75.50"): a decimal
    comma ("75,50"), thousands separators ("1.250,50", "1,250.50", "1 250,50") and spaces are
    understood; anything else is passed on unchanged for the service to judge."""
    if not isinstance(value, str):
        return value
    text = re.sub(r"[\s\u00a0\u202f']", "", value)
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        text = text.replace(grouping, "").replace(decimal, ".")
    elif _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    elif _GROUPED_COMMAS.match(text):
        text = text.replace(",", "")
    return text


def money(price: float | int | str) -> str:
    return f"${float(price):,.2f}"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.capitalize())


def display_time(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.strftime("%d %b %Y, %H:%M UTC")


def _backend_origin_js() -> str:
    """JS expression for the backend origin, the way Reflex's own `getBackendURL` finds it:
    a loopback/any-address api_url means "the host this page came from"."""
    api_url = json.dumps(get_config().api_url)
    return (
        f"(() => {{ const u = new URL({api_url});"
        " if (['localhost', '0.0.0.0', '127.0.0.1', '::', '[::]'].includes(u.hostname)) {"
        " u.hostname = window.location.hostname;"
        " if (window.location.protocol === 'https:') { u.protocol = 'https:'; u.port = ''; } }"
        " return u.origin; })()"
    )


def download_script(path: str, *, with_time_zone: bool = False) -> rx.event.EventSpec:
    """Download `path` from the backend (an `attachment` response: the page stays), sending
    the session cookie; `with_time_zone` adds the browser's zone as `tz` (the e-ticket)."""
    query = (
        " + '?tz=' + encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone || '')"
        if with_time_zone
        else ""
    )
    return rx.call_script(
        "(() => { const a = document.createElement('a');"
        f" a.href = {_backend_origin_js()} + {json.dumps(path)}{query};"
        " a.download = ''; document.body.appendChild(a); a.click(); a.remove(); })()"
    )


def post_form_script(path: str, fields: dict[str, Any], next_path: str) -> str:
    """JS that POSTs a hidden form to the backend (a full navigation, so the cookie the
    response sets reaches the WebSocket that the next page opens). Values are JSON-escaped."""
    data = json.dumps({**fields, "__next": safe_next(next_path)})
    return (
        "(() => {"
        f" const data = {data};"
        " const form = document.createElement('form');"
        " form.method = 'POST';"
        f" form.action = {_backend_origin_js()} + {json.dumps(path)};"
        " data.next = window.location.origin + data.__next; delete data.__next;"
        " for (const [k, v] of Object.entries(data)) {"
        " const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v;"
        " form.appendChild(i); }"
        " document.body.appendChild(form); form.submit(); })()"
    )


def show_error(state: rx.State, exc: DomainError, fields: tuple[str, ...], other: str) -> None:
    """Show a DomainError where the form shows it: next to its field (`<field>_error`, the
    field's name in snake case: `currentPassword` → `current_password_error`) when the form
    has that field, else in the form-wide var `other`."""
    if exc.field in fields:
        target = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", exc.field).lower() + "_error"
    else:
        target = other
    setattr(state, target, exc.message)
