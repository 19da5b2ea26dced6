"""Concurrent signups for one email (in any case): exactly one account, the rest "Email in use"."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from concurrency_helpers import NOW, PASSWORD, run_together
from sqlmodel import select

from ticketing_app.db import read_session, write_session
from ticketing_app.models import DomainEvent, User
from ticketing_app.services import auth

ROUNDS = 5
THREADS = 8


def signup_call(url: str, email: str):
    def call() -> str:
        with write_session(url) as db:
            return auth.signup(db, email=email, password=PASSWORD, now=NOW)[0].id

    return call


def test_same_email_signups_create_one_account(db_url: str) -> None:
    url = db_url
    for _ in range(ROUNDS):
        local = f"race-{uuid.uuid4().hex[:8]}"
        spellings = [
            f"{local}@example.com",
            f"{local.upper()}@Example.COM",
            f" {local}@example.com ",
        ]
        results = run_together(
            [signup_call(url, spellings[i % len(spellings)]) for i in range(THREADS)]
        )
        winners = [value for status, value in results if status == "ok"]
        assert len(winners) == 1, results
        assert sorted(r for r in results if r[0] != "ok") == [("refused", "Email in use")] * (
            THREADS - 1
        )
        with read_session(url) as db:
            users = db.exec(select(User).where(User.email == f"{local}@example.com")).all()
            created = db.exec(
                select(sa.func.count())
                .select_from(DomainEvent)
                .where(DomainEvent.type == "UserCreated", DomainEvent.aggregate_id == winners[0])
            ).one()
        assert [u.id for u in users] == winners and created == 1
