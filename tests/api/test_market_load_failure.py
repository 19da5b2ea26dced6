"""The market page's load runs inside the event that shows `/` (state/market.LoadInTheEvent,
decision 97). When that load fails unexpectedly — here the database loses the tickets table
under a search — the page must still hydrate (not spin forever), show the error toast an
on_load handler's failure shows, and show the results again once the database is back.

Against the prod backend on its own SQLite database, which the test breaks and repairs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_helpers import PASSWORD, unique_email

from tests.support import Server, spawn_server
from tests.support.reflex_socket import FIELD, Tab, compiled_hashes

pytestmark = pytest.mark.slow


class ToastTab(Tab):
    """A tab that also keeps the events the backend sends (a toast is one)."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.events: list[dict[str, Any]] = []

    async def _on_update(self, data: dict[str, Any]) -> None:
        self.events += data.get("events") or []
        await super()._on_update(data)


@pytest.fixture(scope="module")
def backend() -> Iterator[Server]:
    with spawn_server("backend", {}) as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as seller:
            r = seller.post(
                "/api/users/signup", json={"email": unique_email(), "password": PASSWORD}
            )
            assert r.status_code == 201, r.text
            r = seller.post("/api/tickets", json={"title": "Balcony seat", "price": 40})
            assert r.status_code == 201, r.text
        yield server


@pytest.fixture(scope="module")
def hashes(backend: Server) -> list[str]:
    return compiled_hashes(backend)  # a subprocess importing the app: once per module


def _database(server: Server) -> str:
    url = server.env["DATABASE_URL"]
    assert url.startswith("sqlite:///"), url
    return url.removeprefix("sqlite:///")


def _rename(server: Server, old: str, new: str) -> None:
    with sqlite3.connect(_database(server)) as db:
        db.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def _search(server: Server, hashes: list[str]) -> ToastTab:
    tab = ToastTab(server.base_url)
    try:
        # A search is always read from the database (the read model serves the default view).
        await tab.boot("/?q=balcony", hashes=hashes, query={"q": "balcony"})
        await asyncio.sleep(0.3)  # anything sent after the hydrating update
    finally:
        await tab.close()
    return tab


def _error_toasts(tab: ToastTab) -> list[dict[str, Any]]:
    # Reflex's backend_exception_handler answers with a toast: a script call to sonner.
    return [e for e in tab.events if "An error occurred." in str(e.get("payload"))]


def _market(tab: Tab) -> dict[str, Any]:
    return next(values for name, values in tab.merged().items() if name.endswith("market_state"))


def test_a_failing_load_still_hydrates_the_page_and_says_so(
    backend: Server, hashes: list[str]
) -> None:
    _rename(backend, "tickets", "tickets_away")
    try:
        broken = asyncio.run(_search(backend, hashes))  # boot() returns only once hydrated
    finally:
        _rename(backend, "tickets_away", "tickets")
    assert _error_toasts(broken), broken.events
    assert not _market(broken).get(f"tickets{FIELD}")  # nothing stale or half-read shown

    repaired = asyncio.run(_search(backend, hashes))
    assert not _error_toasts(repaired)
    titles = [card["title"] for card in _market(repaired)[f"tickets{FIELD}"]]
    assert titles == ["Balcony seat"]
