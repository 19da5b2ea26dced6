"""Operator tests (SPEC §12): the services on both databases, refunds at a real localstripe
(one per module), and an operator to act as."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.support import World
from tests.support.stripe import LocalStripe, localstripe_in_environment


# Module-scoped: the environment it sets is put back when the module ends. Session-wide, it
# stayed set for every later test, and the browser tests' app servers (started later) got a
# working Stripe where they must have none (test_marketplace: "Pay" cannot be used).
@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    with localstripe_in_environment(tmp_path_factory.mktemp("localstripe")) as server:
        yield server


@pytest.fixture
def world(localstripe: LocalStripe, db_url: str, now: datetime) -> World:
    """`tests.support.World` with localstripe in the settings (refunds reach it)."""
    return World(db_url, now=now)
