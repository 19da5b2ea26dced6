"""`python -m ticketing_app.outbox tail|replay` against a real JetStream stream."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT, free_port
from tests.support.relay import drain, make_relay
from ticketing_app.outbox import store


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketing_app.outbox", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def published(sqlite_url: str, world, nats_url: str, stream) -> list[str]:  # type: ignore[no-untyped-def]
    world.busy_day()
    drain(make_relay(sqlite_url, nats_url, stream, poll_interval=0.1), sqlite_url, timeout=20)
    return [r.id for r in store.fetch_since(sqlite_url, limit=1000)]


def test_tail_prints_the_stream(sqlite_url, sqlite_world, nats_url, stream):
    ids = published(sqlite_url, sqlite_world, nats_url, stream)
    where = ["--nats-url", nats_url, "--stream", stream.name, "--prefix", stream.prefix]
    raw = cli("tail", *where, "--all", "--json", "--count", str(len(ids)))
    assert raw.returncode == 0, raw.stderr
    assert [json.loads(line)["id"] for line in raw.stdout.splitlines()] == ids

    nice = cli("tail", *where, "--all", "--count", "2")
    assert nice.returncode == 0, nice.stderr
    lines = nice.stdout.splitlines()
    assert lines[0].startswith(f"following {stream.name}")
    assert f"{stream.prefix}.user.UserCreated" in lines[1] and " v1 " in lines[1]
    assert lines[2].strip().startswith('{"createdAt": "2026-11-25T12:00:00.000Z"')


def test_tail_follows_new_events(sqlite_url, sqlite_world, nats_url, stream):
    args = [
        "tail",
        "--nats-url",
        nats_url,
        "--stream",
        stream.name,
        "--prefix",
        stream.prefix,
        "--count",
        "1",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketing_app.outbox", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("following")
        published(sqlite_url, sqlite_world, nats_url, stream)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "UserCreated" in out  # the first new event, then it exits (--count 1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_replay_resends_history_that_jetstream_keeps(
    sqlite_url, sqlite_world, nats_url, stream, reader
):
    ids = published(sqlite_url, sqlite_world, nats_url, stream)
    where = [
        "--nats-url",
        nats_url,
        "--stream",
        stream.name,
        "--prefix",
        stream.prefix,
        "--database-url",
        sqlite_url,
    ]

    dry = cli("replay", *where, "--since", "3", "--dry-run")
    assert dry.returncode == 0 and f"{len(ids) - 2} events would be replayed" in dry.stdout
    done = cli("replay", *where, "--since", "3")
    assert done.returncode == 0, done.stderr
    assert f"replayed {len(ids) - 2} events (seq 3..{len(ids)})" in done.stdout
    again = cli("replay", *where, "--since", "2026-11-25T12:00:00Z")  # every event, by time
    assert again.returncode == 0 and f"replayed {len(ids)} events" in again.stdout

    got = reader(stream, expect=len(ids) * 2 + len(ids) - 2)
    assert [m["id"] for m in got] == ids + ids[2:] + ids
    copies = got[len(ids) :]
    assert all(m["_headers"]["Nats-Msg-Id"].startswith(m["id"] + ":replay:") for m in copies)
    assert all("Ticketing-Replay" in m["_headers"] for m in copies)
    assert store.count_unpublished(sqlite_url) == 0  # replay leaves the outbox as it was

    later = cli("replay", *where, "--since", "2026-11-27T00:00:00Z")
    assert later.returncode == 0 and "nothing to replay" in later.stdout
    bad = cli("replay", *where, "--since", "last week")
    assert bad.returncode == 2 and "--since must be an outbox seq" in bad.stderr


def test_unreachable_nats_is_a_clear_error_not_a_hang():
    out = cli("tail", "--nats-url", f"nats://127.0.0.1:{free_port()}", timeout=20)
    assert out.returncode == 1
    assert out.stderr.strip() == "error: NoServersError: nats: no servers available for connection"
