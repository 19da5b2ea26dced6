"""`/verify/[id]`: what the e-ticket's QR code opens (SPEC §10), for whoever scans it —
no sign-in: the code itself is the (unguessable) key, and only a masked holder is shown."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.db import read_session
from ticketing_app.errors import DomainError
from ticketing_app.services import delivery
from ticketing_app.state.common import display_time
from ticketing_app.state.snapshot import PageState


class VerifyState(PageState, rx.State):
    result: dict[str, Any] = {}
    not_valid: str = ""
    loading: bool = True

    @rx.event
    def load(self) -> None:
        code = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            with read_session() as db:
                found = delivery.verify_code(db, code)
        except DomainError as exc:
            self.result, self.not_valid = {}, exc.message
        else:
            event = found["event"] or {}
            self.result = {
                "title": found["title"],
                "holder": found["holder"],
                "eventName": event.get("name", ""),
                "eventWhere": (
                    f"{event['venue']} · {display_time(event['startsAt'])}" if event else ""
                ),
            }
            self.not_valid = ""
        self.loading = False
