"""Payments run against a real localstripe (a stateful fake Stripe API) started per session.

The app's own Stripe module talks to it through the real `stripe` SDK; the tests check what
happened at "Stripe" through the same SDK. Users, tickets and orders are made with the real
services on both databases (`db_url`: SQLite, and PostgreSQL when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.support import World
from tests.support.stripe import LocalStripe, localstripe_in_environment


@pytest.fixture(scope="module")  # module: its environment must not reach later packages' apps
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    with localstripe_in_environment(tmp_path_factory.mktemp("localstripe")) as server:
        yield server


@pytest.fixture
def world(localstripe: LocalStripe, db_url: str, now: datetime) -> World:
    """`tests.support.World` with localstripe in the settings (so `world.pay` reaches it)."""
    return World(db_url, now=now)
