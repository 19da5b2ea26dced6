"""Known-device cookies (issue 18): ten wrong guesses from anywhere used to lock the owner out
of their account for the whole window. A browser that signed in to the account before is now
held only by its own per-device limit; everyone else by the per-email one, as before."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from ticketing_app.errors import RateLimited, ValidationError
from ticketing_app.services import auth, known_device

EMAIL, PASSWORD, WRONG = "owner@example.com", "password1", "wrong-guess"


def attempt(
    new_session: Callable[[], Session],
    at: datetime,
    password: str,
    device: str | None = None,
    email: str = EMAIL,
) -> str:
    """ "signed in" / "invalid" / "rate limited", as the person trying would see it."""
    try:
        with new_session() as db:
            auth.signin(db, email=email, password=password, now=at, device=device)
    except RateLimited:
        return "rate limited"
    except ValidationError:
        return "invalid"
    return "signed in"


@pytest.fixture
def owner_device(new_session: Callable[[], Session], now: datetime) -> str:
    """The owner's account, and the device cookie their browser got when signing up."""
    with new_session() as db:
        user, _ = auth.signup(db, email=EMAIL, password=PASSWORD, now=now)
    return known_device.issue(user.email)


def lock_out_by_guessing(new_session: Callable[[], Session], at: datetime) -> None:
    for i in range(10):
        assert attempt(new_session, at + timedelta(seconds=i), WRONG) == "invalid"
    assert attempt(new_session, at + timedelta(seconds=11), PASSWORD) == "rate limited"


def test_guesses_from_elsewhere_do_not_lock_out_a_known_device(new_session, now, owner_device):
    lock_out_by_guessing(new_session, now)
    later = now + timedelta(minutes=1)
    assert attempt(new_session, later, PASSWORD, owner_device) == "signed in"
    # Any spelling of the email is the same account and the same cookie check.
    assert attempt(new_session, later, PASSWORD, owner_device, " OWNER@example.com") == "signed in"
    # A browser without the cookie is still held by the per-email limit.
    assert attempt(new_session, later, PASSWORD) == "rate limited"


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        "",
        "a.b",
        "x" * 500,
        "tampered",  # the owner's nonce with another MAC
        "other account",  # a valid cookie, for someone else's account
    ],
)
def test_a_forged_or_foreign_cookie_counts_as_an_unknown_browser(
    new_session, now, owner_device, cookie
):
    lock_out_by_guessing(new_session, now)
    if cookie == "tampered":
        cookie = owner_device.split(".")[0] + "." + "0" * 64
    elif cookie == "other account":
        cookie = known_device.issue("attacker@example.com")
    assert attempt(new_session, now + timedelta(minutes=1), PASSWORD, cookie) == "rate limited"


def test_a_known_device_has_its_own_limit(new_session, now, owner_device):
    """A stolen device cookie buys ten more guesses per window, not unlimited ones; and its
    failures do not count against the email (other browsers of the owner still sign in)."""
    for i in range(10):
        assert attempt(new_session, now + timedelta(seconds=i), WRONG, owner_device) == "invalid"
    later = now + timedelta(seconds=20)
    assert attempt(new_session, later, PASSWORD, owner_device) == "rate limited"
    assert attempt(new_session, later, PASSWORD) == "signed in"
    other_device = known_device.issue(EMAIL)  # another browser that signed in before
    assert attempt(new_session, later, PASSWORD, other_device) == "signed in"
    after_window = now + timedelta(minutes=15, seconds=20)
    assert attempt(new_session, after_window, PASSWORD, owner_device) == "signed in"


def test_a_cookie_from_another_secret_is_not_recognised(new_session, now, monkeypatch):
    """The MAC is keyed by the server's secret (TICKETING_DEVICE_COOKIE_SECRET)."""
    from ticketing_app.settings import reset_settings

    with new_session() as db:
        auth.signup(db, email=EMAIL, password=PASSWORD, now=now)
    try:
        monkeypatch.setenv("TICKETING_DEVICE_COOKIE_SECRET", "a" * 32)
        reset_settings()
        known_device.forget_secret()
        issued = known_device.issue(EMAIL)
        assert known_device.throttle_key(issued, EMAIL)
        monkeypatch.setenv("TICKETING_DEVICE_COOKIE_SECRET", "b" * 32)
        reset_settings()
        known_device.forget_secret()
        assert known_device.throttle_key(issued, EMAIL) is None
        lock_out_by_guessing(new_session, now)
        assert attempt(new_session, now + timedelta(minutes=1), PASSWORD, issued) == "rate limited"
    finally:
        monkeypatch.delenv("TICKETING_DEVICE_COOKIE_SECRET")
        reset_settings()
        known_device.forget_secret()


def run_at_once(calls: list[Callable[[], str]]) -> list[str]:
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], str]) -> None:
        barrier.wait()
        outcome = call()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_the_per_device_limit_is_exact_under_a_burst(new_session, now, owner_device):
    """20 wrong guesses at once with one device cookie: exactly 10 are checked."""
    outcomes = run_at_once([lambda: attempt(new_session, now, WRONG, owner_device)] * 20)
    assert sorted(outcomes) == ["invalid"] * 10 + ["rate limited"] * 10
    assert attempt(new_session, now, PASSWORD, owner_device) == "rate limited"


def test_the_owner_gets_in_while_a_burst_of_guesses_locks_the_email(new_session, now, owner_device):
    """20 guesses without a cookie and the owner's sign-in, all at once: the email's limit
    is still exact (10 checked), and the owner signs in whatever the order."""
    guesses = [lambda: attempt(new_session, now, WRONG)] * 20
    owner = [lambda: "owner " + attempt(new_session, now, PASSWORD, owner_device)]
    outcomes = run_at_once(guesses + owner)
    assert "owner signed in" in outcomes
    outcomes.remove("owner signed in")
    assert sorted(outcomes) == ["invalid"] * 10 + ["rate limited"] * 10
    assert attempt(new_session, now, PASSWORD) == "rate limited"
    assert attempt(new_session, now, PASSWORD, owner_device) == "signed in"
