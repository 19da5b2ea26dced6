"""The Reflex app: pages, theme, the REST API and the backend's lifespan tasks."""

import reflex as rx

from ticketing_app import jobs
from ticketing_app.api import build_api


def index() -> rx.Component:
    return rx.text("Ticketing")


app = rx.App(
    theme=rx.theme(appearance="light", accent_color="indigo", radius="large"),
    api_transformer=build_api(),
)
jobs.register(app)  # event bus, live pushes, leased expiry scheduler (docs/live.md)
app.add_page(index)
