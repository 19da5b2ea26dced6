"""One page, no state of its own: what a Reflex backend costs per connected client."""

import gc

import reflex as rx

# The same process tuning as ours (ticketing_app/ticketing_app.py), so the ratio compares
# Reflex's per-client work, not two GC settings.
gc.set_threshold(50_000, 20, 20)


def index() -> rx.Component:
    return rx.text("Hello")


app = rx.App()
app.add_page(index, route="/")
