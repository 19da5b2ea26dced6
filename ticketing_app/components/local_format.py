"""`money_text(amount)` and `local_time(iso)`: formatted in the browser, in the viewer's locale
and time zone (assets/money_format.jsx and assets/local_time.jsx, `Intl`). The currency is the
deployment's one (`TICKETING_CURRENCY`), handed to every page by `NavState.currency`."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.local_time import local_time as zoned_time
from ticketing_app.state.nav import NavState


class Money(rx.Component):
    library = "$/public/money_format.jsx"
    tag = "Money"

    amount: rx.Var[float]
    currency: rx.Var[str]


def money_text(amount: rx.Var, **props: object) -> rx.Component:
    return Money.create(amount=amount, currency=NavState.currency, **props)


def local_time(value: rx.Var, **props: object) -> rx.Component:
    """A listing's or an order's time: medium date and short time, in the viewer's locale
    and zone (the one time component, components/local_time.py, in its "medium" style)."""
    return zoned_time(value.to(str), kind="medium", **props)
