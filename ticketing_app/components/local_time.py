"""`local_time(iso)`: a UTC instant in the viewer's time zone (assets/local_time.jsx)."""

from __future__ import annotations

import reflex as rx


class LocalTime(rx.Component):
    library = "$/public/local_time.jsx"
    tag = "LocalTime"

    value: rx.Var[str]
    kind: rx.Var[str]


def local_time(value: rx.Var | str, kind: str = "datetime", **props: object) -> rx.Component:
    """`kind`: "datetime" (default), "date" or "time"."""
    return LocalTime.create(value=value, kind=kind, **props)
