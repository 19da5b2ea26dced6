"""The operator role (SPEC §12): granted and revoked only from the command line, and read
from the database on every session lookup, so it takes effect on the next request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import World
from ticketing_app.db import write_session
from ticketing_app.errors import Forbidden, NotAuthenticated, ValidationError
from ticketing_app.services import auth, operators

ROOT = Path(__file__).resolve().parents[2]


def run_admin(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "ticketing_app.admin", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def session_user(world: World, token: str) -> auth.SignedIn | None:
    with write_session(world.url) as db:
        return auth.current_user(db, token=token, now=world.now)


def test_grant_and_revoke_from_the_command_line(world: World) -> None:
    user = world.user("Ops@Example.com")
    with write_session(world.url) as db:
        _, token = auth.signin(db, email=user.email, password="correct horse", now=world.now)
    signed_in = session_user(world, token)
    assert signed_in is not None and not signed_in.is_operator
    with pytest.raises(Forbidden, match="Only operators"):
        operators.require_operator(signed_in)

    granted = run_admin(world.url, "grant-operator", "OPS@example.com")
    assert granted.returncode == 0, granted.stderr
    assert "ops@example.com is now an operator" in granted.stdout
    signed_in = session_user(world, token)  # the same session, the next request
    assert signed_in is not None and signed_in.is_operator
    assert operators.require_operator(signed_in) == signed_in

    revoked = run_admin(world.url, "revoke-operator", "ops@example.com")
    assert revoked.returncode == 0, revoked.stderr
    signed_in = session_user(world, token)
    assert signed_in is not None and not signed_in.is_operator


def test_unknown_email_fails_and_changes_nothing(world: World) -> None:
    user = world.user()
    result = run_admin(world.url, "grant-operator", "nobody@example.com")
    assert result.returncode == 1
    assert "No user with the email 'nobody@example.com'" in result.stderr
    assert not world.get_user(user).is_operator


def test_signed_out_is_401_not_403() -> None:
    with pytest.raises(NotAuthenticated):
        operators.require_operator(None)


@pytest.mark.parametrize("reason", ["", "   ", None, 42, "x" * 501])
def test_a_reason_is_required_and_bounded(reason: object) -> None:
    with pytest.raises(ValidationError) as raised:
        operators.clean_reason(reason)
    assert raised.value.field == "reason"


def test_a_reason_is_trimmed() -> None:
    assert operators.clean_reason("  fake   listing \n") == "fake listing"
