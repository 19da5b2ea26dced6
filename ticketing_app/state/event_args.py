"""Arguments of Reflex events come from the browser, so any client can send any shape.

Handlers that take a form read it through `form_fields`, which refuses anything our pages
never send (a string, a list, a field that is not text) with `ForgedEvent`. The app's
`backend_exception_handler` (`refuse_forged_event`) logs such a refusal, and an event whose
arguments do not even bind to the handler (an unknown or missing argument), as ONE line and
answers nothing; anything else still gets Reflex's full traceback and error toast. Without
this, every forged event logged a full traceback: a cheap way to flood the logs.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec

log = logging.getLogger(__name__)
PACKAGE = __name__.split(".")[0]


class ForgedEvent(Exception):
    """An event with arguments no page of ours sends; nothing was changed."""


def form_fields(form: Any, *names: str) -> dict[str, str]:
    """The named text fields of a submitted form (missing ones are ""), or ForgedEvent."""
    handler = sys._getframe(1).f_code.co_qualname  # who was sent it, for the log line
    if not isinstance(form, dict):
        raise ForgedEvent(f"{handler}: the form is a {type(form).__name__}, not an object")
    fields: dict[str, str] = {}
    for name in names:
        value = form.get(name, "")
        if not isinstance(value, str):
            raise ForgedEvent(f"{handler}: form field {name!r} is a {type(value).__name__}")
        fields[name] = value
    return fields


def _raised_outside_our_code(exception: BaseException) -> bool:
    """True when no frame of this app ran: Reflex could not call the handler with the
    arguments sent (`TypeError: ... got an unexpected keyword argument`)."""
    tb = exception.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(PACKAGE + "."):
            return False
        tb = tb.tb_next
    return True


def refuse_forged_event(exception: Exception) -> EventSpec | None:
    """rx.App(backend_exception_handler=...): one log line for a forged event, else Reflex's."""
    if isinstance(exception, ForgedEvent) or (
        isinstance(exception, TypeError) and _raised_outside_our_code(exception)
    ):
        log.warning("refused a forged event: %r", str(exception)[:200])
        return None
    return default_backend_exception_handler(exception)
