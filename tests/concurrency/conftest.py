"""Fixtures for the concurrency tests (plain helpers are in concurrency_helpers.py, which
spawned worker processes import)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ticketing_app.settings import reset_settings


@pytest.fixture
def no_hoarding_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For races where the same buyers reserve round after round, so their holds pile up:
    the hoarding limits are raced on their own (test_hoarding_limits.py). Set in the
    environment, so spawned worker processes inherit it too."""
    monkeypatch.setenv("TICKETING_MAX_ACTIVE_ORDERS", "0")
    monkeypatch.setenv("TICKETING_MAX_TICKETS_PER_EVENT", "0")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()
