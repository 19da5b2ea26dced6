"""`money_text(amount)` and `local_time(iso)`: formatted in the browser, in the viewer's locale
and time zone (assets/local_format.jsx, `Intl`). The currency is the deployment's one
(`TICKETING_CURRENCY`), handed to every page by `NavState.currency`."""

from __future__ import annotations

import reflex as rx

from ticketing_app.state.nav import NavState


class Money(rx.Component):
    library = "$/public/local_format.jsx"
    tag = "Money"

    amount: rx.Var[float]
    currency: rx.Var[str]


class LocalTime(rx.Component):
    library = "$/public/local_format.jsx"
    tag = "LocalTime"

    value: rx.Var[str]


def money_text(amount: rx.Var, **props: object) -> rx.Component:
    return Money.create(amount=amount, currency=NavState.currency, **props)


def local_time(value: rx.Var, **props: object) -> rx.Component:
    return LocalTime.create(value=value.to(str), **props)
