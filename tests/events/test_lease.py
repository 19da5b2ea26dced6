"""One holder at a time; a dead holder's lease is taken over within seconds (every backend)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest

from tests.support import ROOT, wait_until
from ticketing_app.lease import FileLease, Lease, PostgresLease, RedisLease, make_lease

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture(params=["file", "postgresql", "redis"])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(constructor expression for a subprocess, target url)."""
    if request.param == "postgresql" and not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set (CI sets it)")
    if request.param == "redis" and not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set (CI sets it)")
    return request.param, {"file": "", "postgresql": TEST_DATABASE_URL, "redis": TEST_REDIS_URL}[
        request.param
    ] or ""


def new_lease(backend: tuple[str, str], name: str, ttl: float = 2.0) -> Lease:
    kind, url = backend
    if kind == "file":
        return FileLease(name, ttl)
    if kind == "postgresql":
        return PostgresLease(name, ttl, url)
    return RedisLease(name, ttl, url)


@pytest.fixture
def lease_name() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def leases(backend, lease_name) -> Callable[..., Lease]:  # type: ignore[no-untyped-def]
    made: list[Lease] = []

    def make(ttl: float = 2.0) -> Lease:
        lease = new_lease(backend, lease_name, ttl)
        made.append(lease)
        return lease

    yield make
    for lease in made:
        lease.release()


def test_one_holder_at_a_time(leases):
    a, b = leases(), leases()
    assert a.try_acquire()
    assert not b.try_acquire()
    assert a.try_acquire()  # asking again while holding keeps it
    assert a.renew() and a.held
    assert not b.try_acquire()
    a.release()
    assert not a.held
    assert b.try_acquire()
    assert not a.try_acquire()


def test_dead_holder_is_taken_over_within_seconds(backend, lease_name, leases):
    kind, url = backend
    holder = (
        "import sys, time\n"
        "from ticketing_app.lease import FileLease, PostgresLease, RedisLease\n"
        "kind, url, name = sys.argv[1:4]\n"
        "lease = {'file': lambda: FileLease(name, 2.0),\n"
        "         'postgresql': lambda: PostgresLease(name, 2.0, url),\n"
        "         'redis': lambda: RedisLease(name, 2.0, url)}[kind]()\n"
        "assert lease.try_acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, kind, url, lease_name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        waiting = leases()
        assert not waiting.try_acquire()
        os.kill(proc.pid, signal.SIGKILL)  # no chance to release
        proc.wait(timeout=10)
        took = wait_until(waiting.try_acquire, 10, "taken over", interval=0.1)
        # Redis waits out the TTL (2 s here); the others see the death at once.
        assert took < (4.0 if kind == "redis" else 2.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL not set (CI sets it)")
def test_redis_lease_renew_and_release_touch_only_our_own_key(lease_name):
    a = RedisLease(lease_name, 0.5, TEST_REDIS_URL or "")
    b = RedisLease(lease_name, 5.0, TEST_REDIS_URL or "")
    try:
        assert a.try_acquire()
        time.sleep(0.7)  # a's holder stalled past its TTL: the key expired
        assert b.try_acquire()
        assert not a.renew()  # a learns it lost the lease and must stop
        a.release()  # and cannot delete b's key
        assert b.renew() and not a.try_acquire()
    finally:
        a.close()
        b.close()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="TEST_DATABASE_URL not set (CI sets it)")
def test_postgres_lease_is_lost_with_its_connection(lease_name):
    import psycopg

    a = PostgresLease(lease_name, 2.0, TEST_DATABASE_URL or "")
    b = PostgresLease(lease_name, 2.0, TEST_DATABASE_URL or "")
    try:
        assert a.try_acquire()
        pid = a._conn.info.backend_pid
        with psycopg.connect(a._conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert not a.renew()
        assert b.try_acquire()
    finally:
        a.release()
        b.release()


def test_make_lease_picks_the_deployment_backend():
    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    assert isinstance(
        make_lease("n", redis_url="redis://127.0.0.1:6379/0", database_url=pg), RedisLease
    )
    assert isinstance(make_lease("n", redis_url="", database_url=pg), PostgresLease)
    assert isinstance(make_lease("n", redis_url="", database_url="sqlite:///t.db"), FileLease)
