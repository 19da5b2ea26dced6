"""One page, no state of its own: what a Reflex backend costs per connected client."""

import reflex as rx


def index() -> rx.Component:
    return rx.text("Hello")


app = rx.App()
app.add_page(index, route="/")
