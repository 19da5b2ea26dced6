"""Fixtures for the expiry/live tests: a 2-second reservation window, a world on a fresh DB that
reads the real clock (the scheduler under test runs on it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_helpers import LOCK_SECONDS

from tests.support import World
from ticketing_app.settings import reset_settings


@pytest.fixture(autouse=True)
def short_window(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TICKETING_LOCK_SECONDS=2 for every test here."""
    monkeypatch.setenv("TICKETING_LOCK_SECONDS", str(LOCK_SECONDS))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def world(db_url: str) -> World:
    return World(db_url)
