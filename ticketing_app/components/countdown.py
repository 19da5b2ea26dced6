"""`countdown(expires_at, server_now)`: mm:ss ticking in the browser (assets/countdown.jsx)."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventHandler, no_args_event_spec


class Countdown(rx.Component):
    """React component from assets/countdown.jsx; offsets the client clock to the server's."""

    library = "$/public/countdown.jsx"
    tag = "Countdown"

    expires_at: rx.Var[str]
    server_now: rx.Var[str]
    expired_text: rx.Var[str]
    # A warning shown beside the timer once fewer than `urgent_below` seconds are left.
    urgent_below: rx.Var[int]
    urgent_text: rx.Var[str]

    # Fired once, a second after the timer reaches 00:00: re-read the (authoritative) status.
    on_expire: EventHandler[no_args_event_spec]


def countdown(expires_at: rx.Var | str, server_now: rx.Var | str, **props: object) -> rx.Component:
    props.setdefault("expired_text", "Expired")
    return Countdown.create(
        expires_at=expires_at,
        server_now=server_now,
        style={"fontVariantNumeric": "tabular-nums", "fontWeight": "600"},
        **props,
    )
