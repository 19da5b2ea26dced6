"""A single-active-holder lease: at most one process runs a singleton job (the outbox relay,
the expiry scheduler) at a time, and another takes over within seconds if the holder dies.

The lease is an optimisation, never a correctness guarantee: two holders can briefly overlap
(a paused holder whose Redis key expired, a network split), so every job guarded by a lease must
be safe when run twice (the relay de-duplicates by message id, expiry is an idempotent UPDATE).

Backends, chosen by `make_lease` from settings:
- Redis (`REDIS_URL`): a key with a TTL, `SET NX PX`; renewed and released only by its owner
  (compare-and-act Lua scripts). A dead holder's key expires after `ttl_seconds`.
- PostgreSQL without Redis: a session-level `pg_try_advisory_lock` on a dedicated connection;
  the server drops it the moment the holder's connection closes.
- Otherwise (SQLite, one process): an exclusive `flock` on a file in the temp directory, freed
  by the OS when the holder exits.

API (synchronous; call through `asyncio.to_thread` from async code):
    lease = make_lease("outbox-relay", ttl_seconds=10)
    if lease.try_acquire():       # also True if we already hold it
        ...                       # call lease.renew() every ttl/3; stop when it returns False
        lease.release()
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from ticketing_app.db import normalize_url
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)


class Lease(ABC):
    """One named lease held by this object (not shared between objects, even in one process)."""

    def __init__(self, name: str, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.held = False

    @property
    def renew_interval(self) -> float:
        """How often a holder should call `renew` (a third of the TTL)."""
        return self.ttl_seconds / 3

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lease if free (or keep it if ours); never blocks. True if we hold it."""

    @abstractmethod
    def renew(self) -> bool:
        """Extend our hold; False if we lost it (the holder must stop its job)."""

    @abstractmethod
    def release(self) -> None:
        """Give the lease up now (no-op if not held)."""

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class RedisLease(Lease):
    """A Redis key holding a random owner token, with a TTL."""

    _RENEW = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
    )
    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('del', KEYS[1]) else return 0 end"
    )

    def __init__(self, name: str, ttl_seconds: float, redis_url: str) -> None:
        super().__init__(name, ttl_seconds)
        import redis

        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.key = f"ticketing:lease:{name}"
        self.token = secrets.token_hex(16)
        self._renew_script = self._redis.register_script(self._RENEW)
        self._release_script = self._redis.register_script(self._RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_seconds * 1000))

    def try_acquire(self) -> bool:
        try:
            if self.held and self.renew():
                return True
            self.held = bool(self._redis.set(self.key, self.token, nx=True, px=self._ttl_ms))
        except Exception:  # Redis down: nobody can prove they hold it; report not held
            log.warning("lease %s: Redis unavailable", self.name, exc_info=True)
            self.held = False
        return self.held

    def renew(self) -> bool:
        try:
            self.held = bool(self._renew_script(keys=[self.key], args=[self.token, self._ttl_ms]))
        except Exception:
            log.warning("lease %s: renew failed", self.name, exc_info=True)
            self.held = False
        return self.held

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self._release_script(keys=[self.key], args=[self.token])
        self.held = False

    def close(self) -> None:
        self.release()
        with contextlib.suppress(Exception):
            self._redis.close()


# High half of the advisory-lock key pair: "tick", so our locks are recognisable in pg_locks.
_PG_NAMESPACE = 0x7469636B


def _pg_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest()) & 0x7FFFFFFF


class PostgresLease(Lease):
    """A session-level advisory lock, held on a connection of its own (autocommit)."""

    def __init__(self, name: str, ttl_seconds: float, database_url: str) -> None:
        super().__init__(name, ttl_seconds)
        url = make_url(normalize_url(database_url)).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self.key = _pg_key(name)
        self._conn: Any = None

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
        return self._conn

    def _drop_connection(self) -> None:
        with contextlib.suppress(Exception):
            if self._conn is not None:
                self._conn.close()
        self._conn = None
        self.held = False

    def try_acquire(self) -> bool:
        if self.held and self.renew():
            return True
        try:
            row = (
                self._connection()
                .execute("SELECT pg_try_advisory_lock(%s, %s)", (_PG_NAMESPACE, self.key))
                .fetchone()
            )
            self.held = bool(row and row[0])
        except Exception:
            log.warning("lease %s: PostgreSQL unavailable", self.name, exc_info=True)
            self._drop_connection()
        return self.held

    def renew(self) -> bool:
        """Check that our connection is alive and still holds the lock (nothing to extend)."""
        if self._conn is None:
            self.held = False
            return False
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2",
                (_PG_NAMESPACE, self.key),
            ).fetchone()
            self.held = bool(row and row[0])
        except Exception:
            log.warning("lease %s: lost its PostgreSQL connection", self.name, exc_info=True)
            self._drop_connection()
        return self.held

    def release(self) -> None:
        # Unlock explicitly (the server frees a closed session's locks only once its backend
        # has noticed), then close; the connection is ours alone, so unlock_all is exact.
        if self._conn is not None and self.held:
            with contextlib.suppress(Exception):
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        self._drop_connection()


class FileLease(Lease):
    """An exclusive `flock` on a file; each object opens its own file description."""

    def __init__(self, name: str, ttl_seconds: float, scope: str = "") -> None:
        super().__init__(name, ttl_seconds)
        digest = hashlib.sha256(f"{scope}\0{name}".encode()).hexdigest()[:16]
        self.path = Path(tempfile.gettempdir()) / f"ticketing-lease-{digest}.lock"
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        f = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lease is held
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        f.truncate(0)
        f.write(str(os.getpid()).encode())
        f.flush()
        self._file, self.held = f, True
        return True

    def renew(self) -> bool:
        return self.held

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
        self._file, self.held = None, False


def make_lease(
    name: str,
    ttl_seconds: float = 10.0,
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
) -> Lease:
    """The lease backend for this deployment: Redis, else PostgreSQL, else a file lock."""
    settings = get_settings()
    redis_url = redis_url if redis_url is not None else settings.redis_url
    database_url = normalize_url(database_url or settings.database_url)
    if redis_url:
        return RedisLease(name, ttl_seconds, redis_url)
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresLease(name, ttl_seconds, database_url)
    return FileLease(name, ttl_seconds, scope=database_url)
