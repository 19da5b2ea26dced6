"""Engine and session setup.

SQLite: WAL, a busy timeout and `BEGIN IMMEDIATE` for every write transaction, because
SQLAlchemy silently drops `FOR UPDATE` there and a deferred BEGIN lets two writers read the
same row before either takes the write lock. Read-only sessions use a plain deferred BEGIN so
readers never queue behind writers (WAL lets them read the last committed snapshot).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import Pool
from sqlalchemy.pool.base import _ConnectionFairy
from sqlmodel import Session, create_engine

from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_readonly: dict[Engine, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()

READONLY_OPTION = "ticketing_readonly"


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection) -> None:
    # Let SQLAlchemy's "begin" event decide how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _configure_sqlite(engine: Engine) -> None:
    # One writer at a time per database is SQLite's rule. Threads of this process queue for
    # it on a lock (woken the moment the writer commits) instead of in SQLite's busy handler,
    # which polls with sleeps of 1–100 ms; other processes still wait in the busy handler.
    writer = threading.Lock()
    holders: set[int] = set()  # id() of DBAPI connections inside a write transaction

    def release(connection: object) -> None:
        # The dialect is handed the pool's proxy, the pool events the DBAPI connection.
        key = id(getattr(connection, "dbapi_connection", connection))
        if key in holders:
            holders.discard(key)
            writer.release()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        _sqlite_pragmas(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection = conn.connection.dbapi_connection
        if conn.get_execution_options().get(READONLY_OPTION):
            dbapi_connection.execute("BEGIN")
            return
        if not writer.acquire(timeout=30):
            raise sqlite3.OperationalError("database is locked")
        holders.add(id(dbapi_connection))
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            release(dbapi_connection)
            raise

    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit_then_release(dbapi_connection):  # type: ignore[no-untyped-def]
        try:
            do_commit(dbapi_connection)
        finally:
            release(dbapi_connection)

    def rollback_then_release(dbapi_connection):  # type: ignore[no-untyped-def]
        try:
            do_rollback(dbapi_connection)
        finally:
            release(dbapi_connection)

    dialect.do_commit = commit_then_release  # type: ignore[method-assign]
    dialect.do_rollback = rollback_then_release  # type: ignore[method-assign]

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        release(dbapi_connection)  # never leave the lock with a connection back in the pool

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        release(dbapi_connection)


_AFTER_COMMIT = "ticketing_after_commit"
_hook_lock = threading.Lock()


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run `callback` once the transaction open on `conn` has committed — in the committing
    thread, right after the COMMIT (and, on SQLite, after the write lock is released) — or
    never, if it rolls back. The one after-commit mechanism for Core connections and ORM
    sessions alike: both commit through the dialect, which `_hook_commits` wraps."""
    if not conn.in_transaction():
        raise RuntimeError("after_commit needs an open transaction")
    _hook_commits(conn.engine.dialect)
    conn.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _take_callbacks(connection: Any) -> list[Callable[[], None]]:
    # The dialect is handed the pool's proxy, whose `info` is the DBAPI connection's; while
    # a connection is first set up it may be handed a bare or ad-hoc one (nothing pending).
    if not isinstance(connection, _ConnectionFairy):
        return []
    return connection.info.pop(_AFTER_COMMIT, None) or []


def _hook_commits(dialect: Dialect) -> None:
    """Wrap `dialect`'s commit and rollback (once): after a commit, run the callbacks that
    `after_commit` left on that connection; a rollback (also the pool's reset on checkin) or a
    failed commit drops them."""
    if getattr(dialect, _AFTER_COMMIT, False):
        return
    with _hook_lock:
        if getattr(dialect, _AFTER_COMMIT, False):
            return
        do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

        def commit_then_run(dbapi_connection):  # type: ignore[no-untyped-def]
            callbacks = _take_callbacks(dbapi_connection)
            do_commit(dbapi_connection)
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # committed already: a broken callback must not undo that
                    log.exception("after-commit callback %r failed", callback)

        def rollback_then_drop(dbapi_connection):  # type: ignore[no-untyped-def]
            _take_callbacks(dbapi_connection)
            do_rollback(dbapi_connection)

        dialect.do_commit = commit_then_run  # type: ignore[method-assign]
        dialect.do_rollback = rollback_then_drop  # type: ignore[method-assign]
        setattr(dialect, _AFTER_COMMIT, True)


# A pooled connection unused for longer than this is checked with a round trip before use.
PING_AFTER_IDLE_SECONDS = 0.5
_LAST_USED = "ticketing_last_used"


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling for idle connections only (HikariCP's "alive bypass
    window" idea): `pool_pre_ping` paid a `SELECT 1` round trip on every checkout, ~10 % of a
    busy request's time. A connection used in the last half second is handed out as is; if
    the server dropped it in that half second, the request fails with a clean 503 and the
    disconnect invalidates the pool (docs/decisions.md, 16)."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: settings.database_url)."""
    url = normalize_url(url or get_settings().database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if make_url(url).get_backend_name() == "sqlite":
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30}
                )
                _configure_sqlite(engine)
            else:
                settings = get_settings()
                engine = create_engine(
                    url,
                    pool_size=settings.ticketing_db_pool_size,
                    max_overflow=settings.ticketing_db_max_overflow,
                    pool_timeout=30,
                )
                _ping_idle_connections(engine)
            _hook_commits(engine.dialect)
            _engines[url] = engine
        return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    url = normalize_url(url or get_settings().database_url)
    engine = get_engine(url)
    with _lock:
        factory = _factories.get(url)
        if factory is None:
            factory = sessionmaker(bind=engine, class_=Session, expire_on_commit=False)
            _factories[url] = factory
        return factory


@contextmanager
def write_session(url: str | None = None) -> Iterator[Session]:
    """A session for services that change data; the service owns commit/rollback."""
    session = session_factory(url)()
    try:
        yield session
    finally:
        session.close()


def readonly_engine(engine: Engine) -> Engine:
    """`engine` for read-only work, built once per engine: a deferred BEGIN on SQLite (never
    the write lock), autocommit on PostgreSQL."""
    found = _readonly.get(engine)
    if found is None:
        options: dict[str, object] = {READONLY_OPTION: True}
        if engine.dialect.name == "postgresql":
            # No BEGIN/ROLLBACK round trips: each statement of a read sees the latest commit,
            # which is what READ COMMITTED gave inside a transaction anyway.
            options["isolation_level"] = "AUTOCOMMIT"
        found = _readonly.setdefault(engine, engine.execution_options(**options))
    return found


_autocommit: dict[Engine, Engine] = {}


def autocommit_engine(engine: Engine) -> Engine:
    """`engine` in autocommit on PostgreSQL, for work that is ONE write statement (atomic on
    its own): no BEGIN and COMMIT round trips. Other dialects: `engine` itself (SQLite writes
    go through `engine.begin()`, which takes the writer lock)."""
    if engine.dialect.name != "postgresql":
        return engine
    found = _autocommit.get(engine)
    if found is None:
        found = _autocommit.setdefault(
            engine, engine.execution_options(isolation_level="AUTOCOMMIT")
        )
    return found


class DriverQuery:
    """A read-only Core SELECT compiled once per dialect and run straight on a pooled DBAPI
    connection, in autocommit (the one statement is its own snapshot).

    For the hottest read only (the refusal check of `orders.reserve_ticket`, where SQLAlchemy's
    per-execution machinery cost several times the query itself on SQLite:
    docs/performance.md §1). Rows are plain tuples with the driver's types (no result
    processing), so select columns that need none; every bind parameter must be a named
    `bindparam` (processed by its type as usual) — write constants as literal SQL."""

    def __init__(self, statement: Select[Any]) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, list[tuple[str, Any]], bool]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, list[tuple[str, Any]], bool]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            by_name = {name: bind for bind, name in compiled.bind_names.items()}
            names = compiled.positiontup if compiled.positional else list(by_name)
            binds = [
                (name, by_name[name].type.dialect_impl(dialect).bind_processor(dialect))
                for name in names or []
            ]
            found = (str(compiled), binds, compiled.positional)
            self._compiled[dialect.name] = found
        return found

    def first(self, engine: Engine, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, or None. Run on a pooled connection, or for a SQLite file on the
        process's one point-read connection (`_SQLiteReader`). Driver errors come out as
        SQLAlchemy's (`OperationalError` for a database that is down: the API answers 503),
        and a connection the database dropped is invalidated, as SQLAlchemy does for its own
        statements."""
        dialect = engine.dialect
        sql, binds, positional = self._compile(dialect)
        values = [(name, proc(params[name]) if proc else params[name]) for name, proc in binds]
        args: Any = tuple(v for _, v in values) if positional else dict(values)
        reader = _sqlite_reader(engine)
        if reader is not None:
            return reader.first(sql, args)
        driver_error = dialect.loaded_dbapi.Error
        try:
            proxied = engine.raw_connection()  # pool checkout (and its idle ping)
        except driver_error as exc:
            raise DBAPIError.instance(None, None, exc, driver_error, dialect=dialect) from exc
        dbapi_connection = proxied.driver_connection
        try:
            autocommit = getattr(dbapi_connection, "autocommit", None)
            if autocommit is False:  # psycopg: no BEGIN/ROLLBACK round trips for one SELECT
                dbapi_connection.autocommit = True
            cursor = proxied.cursor()
            try:
                cursor.execute(sql, args)
                row = cursor.fetchone()
            finally:
                cursor.close()
            if autocommit is False:
                dbapi_connection.autocommit = False
            return row
        except driver_error as exc:
            dropped = dialect.is_disconnect(exc, dbapi_connection, None)
            proxied.invalidate(exc)  # in an unknown state either way: never reuse it
            raise DBAPIError.instance(
                sql, args, exc, driver_error, connection_invalidated=dropped, dialect=dialect
            ) from exc
        finally:
            proxied.close()  # back to the pool (an invalidated one is discarded)


class _SQLiteReader:
    """The one SQLite connection of this process for DriverQuery's point reads.

    One, behind a lock, rather than a pool: a point read is a few microseconds of C, and under
    the GIL more connections only add thread hand-offs and cold per-connection page caches
    (200 threads refusing reservations: 1 connection ~2.5× the rate of 15;
    docs/performance.md §1). WAL readers never wait for the writer, so the lock is held for
    one statement (or, rarely, for opening the connection)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
            conn = sqlite3.connect(*cargs, **{**cparams, "check_same_thread": False, "timeout": 30})
            try:
                _sqlite_pragmas(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def first(self, sql: str, args: Any) -> tuple[Any, ...] | None:
        with self._lock:
            try:
                cursor = self._connection().execute(sql, args)
                try:
                    return cursor.fetchone()
                finally:
                    cursor.close()  # ends the statement: no WAL snapshot stays pinned
            except sqlite3.Error as exc:
                self._close()  # in an unknown state: the next read opens a new one
                raise DBAPIError.instance(sql, args, exc, sqlite3.Error) from exc

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:  # never under a read in another thread
            self._close()


# Per pool, not per engine: engine.dispose() swaps in a new pool, and the old pool's reader
# (with its connection) goes with it.
_readers: weakref.WeakKeyDictionary[Pool, _SQLiteReader | None] = weakref.WeakKeyDictionary()
_inherited: list[_SQLiteReader] = []


def _forget_readers_after_fork() -> None:
    """A forked child opens its own point-read connections (SQLite connections must not cross
    a fork) and never touches, nor closes, the parent's: they are kept aside, unused."""
    _inherited.extend(reader for reader in _readers.values() if reader is not None)
    _readers.clear()


os.register_at_fork(after_in_child=_forget_readers_after_fork)


def _sqlite_reader(engine: Engine) -> _SQLiteReader | None:
    """The point-read connection of a file SQLite engine (None for others, and in-memory)."""
    pool = engine.pool
    found = _readers.get(pool, False)
    if found is False:
        reader = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            reader = _SQLiteReader(engine)
        with _lock:
            found = _readers.setdefault(pool, reader)
    return found  # type: ignore[return-value]


@contextmanager
def read_session(url: str | None = None) -> Iterator[Session]:
    """A session for queries only (deferred BEGIN on SQLite)."""
    session = Session(bind=readonly_engine(get_engine(url)), expire_on_commit=False)
    try:
        yield session
    finally:
        # close() ends the transaction and detaches the rows with their loaded values; a
        # rollback() first would expire them, and callers read them after the block.
        session.close()


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        for reader in list(_readers.values()):
            if reader is not None:
                reader.close()
        _engines.clear()
        _readonly.clear()
        _autocommit.clear()
        _factories.clear()
