"""Shared pieces of the benchmarks: throwaway databases, seeding by plain SQL, timing, output.

Every benchmark measures the thing under test *and* its baseline in the same run, alternating
rounds, and reports the best round of each and their ratio: the machine is shared and noisy,
so absolute numbers mean little and the ratio is the figure we publish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Benchmarks seed users by SQL; keep any argon2 hashing the app does cheap and stable.
os.environ.setdefault("TICKETING_ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("TICKETING_ARGON2_TIME_COST", "1")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.db_helpers import fresh_postgres as _fresh_postgres  # noqa: E402
from tests.db_helpers import migrate  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "ticketing_bench"
# A real argon2id hash of "correct horse battery" (m=1024, t=1): seeded users can sign in.
PASSWORD = "correct horse battery"


def fresh_postgres(admin_url: str | None = None, name: str = BENCH_DB) -> str:
    """Our own database `name` (never the shared `test`), emptied and migrated."""
    return _fresh_postgres(name, admin_url or os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))


def fresh_sqlite(directory: Path | None = None) -> str:
    directory = directory or Path(tempfile.mkdtemp(prefix="ticketing-bench-"))
    url = f"sqlite:///{directory / 'bench.db'}"
    migrate(url)
    return url


def drop_sqlite(url: str) -> None:
    path = Path(make_url(url).database or "")
    shutil.rmtree(path.parent, ignore_errors=True)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def seed_users(engine: sa.Engine, n: int, prefix: str = "bench") -> list[str]:
    """n users by plain INSERT (signup's argon2 would dominate a seeding of thousands)."""
    from argon2 import PasswordHasher

    password_hash = PasswordHasher(memory_cost=1024, time_cost=1).hash(PASSWORD)
    ts = now()
    ids = [str(uuid.uuid4()) for _ in range(n)]
    rows = [
        {"id": i, "email": f"{prefix}-{i[:12]}@example.com", "h": password_hash, "ts": ts}
        for i in ids
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, password_hash, version, created_at, updated_at) "
                "VALUES (:id, :email, :h, 1, :ts, :ts)"
            ),
            rows,
        )
    return ids


def seed_sessions(engine: sa.Engine, user_ids: list[str]) -> list[str]:
    """A signed-in session per user by plain INSERT; returns the `session` cookie values."""
    import hashlib
    import secrets
    from datetime import timedelta

    ts = now()
    tokens = [secrets.token_urlsafe(32) for _ in user_ids]
    rows = [
        {"id": str(uuid.uuid4()), "u": u, "h": hashlib.sha256(t.encode()).hexdigest(), "ts": ts,
         "exp": ts + timedelta(days=1)}
        for u, t in zip(user_ids, tokens, strict=True)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO auth_sessions (id, user_id, token_hash, created_at, expires_at) "
                "VALUES (:id, :u, :h, :ts, :exp)"
            ),
            rows,
        )
    return tokens


def seed_tickets(
    engine: sa.Engine, seller_id: str, n: int, title: str = "Bench ticket {i}"
) -> list[str]:
    ts = now()
    ids = [str(uuid.uuid4()) for _ in range(n)]
    rows = [
        {"id": t, "title": title.format(i=i), "p": 1000 + i % 5000, "u": seller_id, "ts": ts}
        for i, t in enumerate(ids)
    ]
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(
                sa.text(
                    "INSERT INTO tickets (id, title, price_cents, user_id, status, version, "
                    "created_at, updated_at) VALUES (:id, :title, :p, :u, 'available', 1, :ts, :ts)"
                ),
                rows[start : start + 5000],
            )
    return ids


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


def header(title: str) -> None:
    print(f"# {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {git_commit()}")
