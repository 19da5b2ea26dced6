"""Engine and session setup.

SQLite: WAL, a busy timeout and `BEGIN IMMEDIATE` for every write transaction, because
SQLAlchemy silently drops `FOR UPDATE` there and a deferred BEGIN lets two writers read the
same row before either takes the write lock. Read-only sessions use a plain deferred BEGIN so
readers never queue behind writers (WAL lets them read the last committed snapshot).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine

from ticketing_app.settings import get_settings

_engines: dict[str, Engine] = {}
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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event below decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


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
                    pool_pre_ping=True,
                    pool_timeout=30,
                )
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
            from ticketing_app.services import outbox

            outbox.install(factory)
        return factory


@contextmanager
def write_session(url: str | None = None) -> Iterator[Session]:
    """A session for services that change data; the service owns commit/rollback."""
    session = session_factory(url)()
    try:
        yield session
    finally:
        session.close()


@contextmanager
def read_session(url: str | None = None) -> Iterator[Session]:
    """A session for queries only (deferred BEGIN on SQLite)."""
    engine = get_engine(url).execution_options(**{READONLY_OPTION: True})
    session = Session(bind=engine, expire_on_commit=False)
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
        _engines.clear()
        _factories.clear()
