"""Accounts and sessions (SPEC §3 User/AuthSession, §4 signup/signin/signout/currentuser)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from passlib.context import CryptContext
from sqlmodel import Session, select

from ticketing_app.db import read_session
from ticketing_app.errors import RateLimited, ValidationError
from ticketing_app.models import AuthSession, User
from ticketing_app.services import auth
from ticketing_app.settings import Settings, reset_settings


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Re-read settings (and the hashing context) after the test changes the environment."""

    def clear() -> None:
        reset_settings()
        auth.password_context.cache_clear()
        auth._dummy_hash.cache_clear()

    clear()
    yield monkeypatch
    clear()  # runs before monkeypatch restores the environment; caches refill lazily after


def signup(new_session: Callable[[], Session], now: datetime, email: Any, password: Any):
    with new_session() as db:
        return auth.signup(db, email=email, password=password, now=now)


def signin(new_session: Callable[[], Session], now: datetime, email: Any, password: Any):
    with new_session() as db:
        return auth.signin(db, email=email, password=password, now=now)


def current(new_session: Callable[[], Session], now: datetime, token: Any) -> User | None:
    with new_session() as db:
        return auth.current_user(db, token=token, now=now)


def test_signup_stores_trimmed_lowercase_email_and_signs_in(new_session, now, db_url):
    user, token = signup(new_session, now, "  Alice.Smith@Example.COM ", "password1")
    assert user.email == "alice.smith@example.com"
    assert user.created_at == now
    assert current(new_session, now, token).id == user.id
    with read_session(db_url) as db:
        stored = db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    assert token not in stored.token_hash and stored.token_hash == auth.hash_token(token)
    assert stored.expires_at == now + timedelta(days=7)


BAD_EMAILS = [
    ("", "Email is required"),
    ("   ", "Email is required"),
    (None, "Email is required"),
    (42, "Email is required"),
    ("no-at-sign.example.com", "Email must be valid"),
    ("a@b", "Email must be valid"),
    ("two words@example.com", "Email must be valid"),
    ("a@@example.com", "Email must be valid"),
    ("x" * 250 + "@example.com", "Email must be valid"),
    ("nul\x00@example.com", "Email must be valid"),
    ("tab\there@example.com", "Email must be valid"),
]


def test_signup_rejects_bad_email(new_session, now, subtests, event_count):
    for email, message in BAD_EMAILS:
        with subtests.test(email=email):
            with pytest.raises(ValidationError) as err:
                signup(new_session, now, email, "password1")
            assert (err.value.message, err.value.field, err.value.status) == (
                message,
                "email",
                400,
            )
    assert event_count() == 0


def test_signup_password_length_8_to_128(new_session, now, subtests):
    for password in ("", None, "1234567", "p" * 129, 12345678):
        with subtests.test(password=password), pytest.raises(ValidationError) as err:
            signup(new_session, now, "p@example.com", password)
        assert err.value.field == "password"
        assert err.value.message in (
            "Password is required",
            "Password must be between 8 and 128 characters",
        )
    for length in (8, 128):
        with subtests.test(length=length):
            user, _ = signup(new_session, now, f"p{length}@example.com", "p" * length)
            assert signin(new_session, now, f"p{length}@example.com", "p" * length)[0].id == user.id


def test_signup_email_in_use_is_case_insensitive(new_session, now):
    signup(new_session, now, "dup@example.com", "password1")
    for email in ("dup@example.com", "DUP@Example.com", " dup@example.com  "):
        with pytest.raises(ValidationError) as err:
            signup(new_session, now, email, "password2")
        assert (err.value.message, err.value.field) == ("Email in use", "email")


@pytest.mark.parametrize(
    "look_alike",
    [
        "ａｌｉｃｅ@example.com",  # fullwidth letters
        "alice＠example.com",  # fullwidth at sign
        "ali\u200bce@example.com",  # zero-width space
        "al\u00adice@example.com",  # soft hyphen
        "alice@exa\u200dmple.com",  # zero-width joiner
        "\ufeffalice@example.com",  # BOM
        "alice\u2060@example.com",  # word joiner
        "ALİCE@example.com".replace("İ", "I"),  # plain case
        "ａｌｉｃｅ@ＥＸＡＭＰＬＥ.com",
    ],
)
def test_a_look_alike_of_an_existing_email_is_in_use(new_session, now, look_alike):
    """NFKC and invisible characters first, then the uniqueness check: otherwise two
    accounts could show the same address."""
    signup(new_session, now, "alice@example.com", "password1")
    with pytest.raises(ValidationError) as err:
        signup(new_session, now, look_alike, "password1")
    assert (err.value.message, err.value.field) == ("Email in use", "email")
    user, _ = signin(new_session, now, look_alike, "password1")  # the same account
    assert user.email == "alice@example.com"


def test_a_look_alike_email_is_stored_in_its_plain_spelling(new_session, now):
    user, _ = signup(new_session, now, "ｂｏｂ\u200b@Example.com", "password1")
    assert user.email == "bob@example.com"
    for bad in ("\u200b", "bob\x85@example.com"):
        with pytest.raises(ValidationError):
            signup(new_session, now, bad, "password1")


def test_password_hash_is_argon2id_and_never_the_password(new_session, now, db_url):
    user, _ = signup(new_session, now, "h@example.com", "password1")
    with read_session(db_url) as db:
        stored = db.get(User, user.id)
    assert stored.password_hash.startswith("$argon2id$")
    assert "password1" not in stored.password_hash


def test_production_hash_cost_is_owasp_argon2id(fresh_settings):
    """Tests hash cheaply; this checks once that the shipped defaults hash and verify."""
    fresh_settings.delenv("TICKETING_ARGON2_MEMORY_KIB", raising=False)
    fresh_settings.delenv("TICKETING_ARGON2_TIME_COST", raising=False)
    assert Settings.model_fields["ticketing_argon2_memory_kib"].default == 19456
    assert Settings.model_fields["ticketing_argon2_time_cost"].default == 2
    context = auth.password_context()
    hashed = context.hash("s3cret-password")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert context.verify("s3cret-password", hashed)
    assert not context.verify("s3cret-passwore", hashed)


def test_signin_accepts_any_case_and_returns_fresh_session(new_session, now):
    user, first = signup(new_session, now, "bob@example.com", "password1")
    signed_in, second = signin(new_session, now, "  BOB@Example.com ", "password1")
    assert signed_in.id == user.id and second != first
    assert current(new_session, now, second).id == user.id


SIGNIN_FAILURES = [
    ("bob@example.com", "wrong-password"),
    ("nobody@example.com", "password1"),
    ("", "password1"),
    ("bob@example.com", ""),
    (None, None),
    (["bob@example.com"], "password1"),
]


def test_signin_failures_all_say_invalid_credentials(new_session, now, subtests):
    signup(new_session, now, "bob@example.com", "password1")
    for email, password in SIGNIN_FAILURES:
        with subtests.test(email=email, password=password):
            with pytest.raises(ValidationError) as err:
                signin(new_session, now, email, password)
            assert (err.value.message, err.value.field, err.value.status) == (
                "Invalid credentials",
                None,
                400,
            )


def test_unknown_email_costs_the_same_hash_verify(new_session, now, monkeypatch):
    """No account enumeration: an unknown email runs one argon2 verify with the same cost."""
    signup(new_session, now, "known@example.com", "password1")
    verified: list[str] = []
    real_verify = CryptContext.verify

    def spy(self: CryptContext, secret: str, hash: str, *args: Any, **kwargs: Any) -> bool:
        verified.append(hash)
        return real_verify(self, secret, hash, *args, **kwargs)

    monkeypatch.setattr(CryptContext, "verify", spy)
    for email in ("known@example.com", "unknown@example.com"):
        with pytest.raises(ValidationError, match="Invalid credentials"):
            signin(new_session, now, email, "wrong-password")
    assert len(verified) == 2
    params = [h.rsplit("$", 2)[0] for h in verified]  # "$argon2id$v=19$m=…,t=…,p=…"
    assert params[0] == params[1] and params[0].startswith("$argon2id$")


def test_signout_revokes_the_session_only(new_session, now):
    user, token = signup(new_session, now, "s@example.com", "password1")
    _, other = signin(new_session, now, "s@example.com", "password1")
    with new_session() as db:
        auth.signout(db, token=token, now=now)
    assert current(new_session, now, token) is None
    assert current(new_session, now, other).id == user.id
    with new_session() as db:  # signing out twice, or without a token, is harmless
        auth.signout(db, token=token, now=now)
        auth.signout(db, token=None, now=now)
        auth.signout(db, token="never-issued", now=now)
        auth.signout(db, token=42, now=now)  # type: ignore[arg-type]


def test_current_user_unknown_token_is_none(new_session, now, subtests):
    signup(new_session, now, "c@example.com", "password1")
    for token in (None, "", "garbage", "x" * 257, "x" * 10_000, 42):
        with subtests.test(token=token):
            assert current(new_session, now, token) is None


def test_session_expires_after_seven_days(new_session, now):
    _, token = signup(new_session, now, "e@example.com", "password1")
    assert current(new_session, now + timedelta(days=7, seconds=-1), token) is not None
    _, unused = signin(new_session, now, "e@example.com", "password1")
    assert current(new_session, now + timedelta(days=7), unused) is None


def test_session_expiry_slides_with_use(new_session, now, db_url):
    _, token = signup(new_session, now, "slide@example.com", "password1")
    later = now + timedelta(days=6)
    assert current(new_session, later, token) is not None
    with read_session(db_url) as db:
        stored = db.exec(
            select(AuthSession).where(AuthSession.token_hash == auth.hash_token(token))
        ).one()
    assert stored.expires_at == later + timedelta(days=7)
    assert current(new_session, now + timedelta(days=12), token) is not None  # past the first 7


def test_rate_limit_after_ten_failures_then_window_passes(new_session, now):
    signup(new_session, now, "rl@example.com", "password1")
    for i in range(10):
        with pytest.raises(ValidationError):
            signin(new_session, now + timedelta(seconds=i), "rl@example.com", "nope-nope")
    # Even the right password is refused while limited, for any spelling of the email.
    for email in ("rl@example.com", "RL@example.com "):
        with pytest.raises(RateLimited) as err:
            signin(new_session, now + timedelta(minutes=14), email, "password1")
        assert err.value.status == 429
        assert err.value.message == "Too many failed sign-in attempts. Try again in a few minutes."
    # Another account is unaffected.
    signup(new_session, now, "other@example.com", "password1")
    assert signin(new_session, now + timedelta(minutes=1), "other@example.com", "password1")
    # Once the 15-minute window has passed the account may sign in again.
    user, _ = signin(
        new_session, now + timedelta(minutes=15, seconds=10), "rl@example.com", "password1"
    )
    assert user.email == "rl@example.com"


def test_rate_limit_counts_unknown_emails_too(new_session, now):
    for _ in range(10):
        with pytest.raises(ValidationError):
            signin(new_session, now, "ghost@example.com", "whatever1")
    with pytest.raises(RateLimited):
        signin(new_session, now, "ghost@example.com", "whatever1")


def test_rate_limit_is_exact_under_a_burst_of_concurrent_guesses(new_session, now):
    """20 wrong guesses at once: exactly 10 are checked (and fail), the other 10 are refused
    as rate limited, and then even the right password is refused."""
    signup(new_session, now, "burst@example.com", "password1")
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def guess() -> None:
        barrier.wait()
        try:
            signin(new_session, now, "burst@example.com", "wrong-guess")
            outcomes.append("signed in")
        except RateLimited:
            outcomes.append("rate limited")
        except ValidationError:
            outcomes.append("invalid")

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["invalid"] * 10 + ["rate limited"] * 10
    with pytest.raises(RateLimited):
        signin(new_session, now + timedelta(minutes=1), "burst@example.com", "password1")


def test_successful_signins_do_not_count_as_failures(new_session, now):
    signup(new_session, now, "often@example.com", "password1")
    for i in range(12):
        assert signin(new_session, now + timedelta(seconds=i), "often@example.com", "password1")
    for i in range(9):
        with pytest.raises(ValidationError):
            signin(new_session, now + timedelta(seconds=20 + i), "often@example.com", "nope-nope")
    assert signin(new_session, now + timedelta(seconds=40), "often@example.com", "password1")


def test_signup_writes_user_created_event(new_session, now, stored_events):
    user, _ = signup(new_session, now, "ev@example.com", "password1")
    events = stored_events()
    assert [(e.type, e.aggregate_type, e.aggregate_id, e.aggregate_version) for e in events] == [
        ("UserCreated", "user", user.id, 1)
    ]
    assert events[0].payload["email"] == "ev@example.com"
    assert "password" not in str(events[0].payload).lower()
