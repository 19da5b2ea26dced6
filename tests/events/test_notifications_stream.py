"""With NATS_URL the notifications consumer reads the relay's stream through a durable
JetStream consumer (jobs/notifications_stream.py), against the real NATS at TEST_NATS_URL, a
stream of our own per test: every event planned once, acked after the rows commit, and a
consumer that dies between commit and ack, or is restarted mid-stream, loses nothing and
duplicates nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
import sqlalchemy as sa

from tests.smtp_helpers import SmtpServer
from tests.support.relay import drain, make_relay
from ticketing_app.db import get_engine
from ticketing_app.jobs.notifications import Notifier
from ticketing_app.jobs.notifications_stream import StreamConsumer
from ticketing_app.lease import FileLease
from ticketing_app.mail import SmtpTransport
from ticketing_app.models import Delivery, DomainEvent, Notification, utcnow
from ticketing_app.services import notifications as svc


class Crash(Exception):
    pass


class CrashingConsumer(StreamConsumer):
    """Dies after the `crash_on`-th batch committed, before acknowledging it."""

    def __init__(self, *, crash_on: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.crash_on, self.batches = crash_on, 0

    async def _ack(self, msgs: list[Any]) -> None:
        self.batches += 1
        if self.batches == self.crash_on:
            raise Crash
        await super()._ack(msgs)


def consumer(nats_url: str, stream: Any, cls: type = StreamConsumer, **kw: Any) -> Any:
    return cls(nats_url=nats_url, stream=stream.name, subject_prefix=stream.prefix, **kw)


def rows(db_url: str) -> list[tuple[str, str, str]]:
    table = Delivery.__table__
    with get_engine(db_url).connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(table.c.domain_event_id, table.c.recipient, table.c.template)
            )
        ]


def notifications(db_url: str) -> int:
    with get_engine(db_url).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Notification)).scalar_one()


def event_ids(db_url: str, type_: str) -> set[str]:
    table = DomainEvent.__table__
    with get_engine(db_url).connect() as conn:
        return set(conn.execute(sa.select(table.c.id).where(table.c.type == type_)).scalars())


async def pending(nats_url: str, stream: Any, durable: str = "notifications") -> tuple[int, int]:
    nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False)
    try:
        info = await nc.jetstream().consumer_info(stream.name, durable)
        return info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


async def run(c: StreamConsumer, db_url: str) -> tuple[int, int]:
    try:
        return await c.consume_available(get_engine(db_url))
    finally:
        await c.close()


def test_events_from_the_stream_become_emails_once(db_url, world, nats_url, stream):
    world.busy_day()  # sign-ups (welcome), an expired reservation (email + in-app) …
    drain(make_relay(db_url, nats_url, stream), db_url)

    handled, made = asyncio.run(run(consumer(nats_url, stream), db_url))
    assert handled == 15  # every event of the day, one message each
    planned = rows(db_url)
    assert len(planned) == len(set(planned)) == made
    welcomes = {r[0] for r in planned if r[2] == "welcome"}
    assert welcomes == event_ids(db_url, "UserCreated")
    assert any(r[2] == "reservation_expired" for r in planned)
    in_app = notifications(db_url)
    assert in_app >= 1
    assert asyncio.run(pending(nats_url, stream)) == (0, 0)  # all acknowledged

    # Nothing new on the stream: a second pass reads nothing and makes nothing.
    assert asyncio.run(run(consumer(nats_url, stream), db_url)) == (0, 0)
    # The embedded reader, over the same outbox, finds every email already planned: the
    # stream lost nothing.
    assert svc.consume(get_engine(db_url), now=utcnow())[1] == 0
    assert sorted(rows(db_url)) == sorted(planned) and notifications(db_url) == in_app


def test_consumer_dying_between_commit_and_ack_then_restarted_loses_and_duplicates_nothing(
    db_url, world, nats_url, stream
):
    users = [world.user() for _ in range(12)]
    drain(make_relay(db_url, nats_url, stream), db_url)

    # Batches of 4: the second batch commits its rows, then the process "dies" before acking.
    first = consumer(nats_url, stream, CrashingConsumer, crash_on=2, batch_size=4, ack_wait=1.0)
    try:
        asyncio.run(run(first, db_url))
    except Crash:
        pass
    else:
        raise AssertionError("the consumer should have crashed")
    assert len(rows(db_url)) == 8  # two batches planned, one of them unacknowledged

    # More events arrive while it is down.
    users += [world.user() for _ in range(3)]
    drain(make_relay(db_url, nats_url, stream), db_url)

    # The restarted consumer (same durable) resumes after the last ack: the 4 unacked messages
    # come back after ack_wait, with the 7 it never saw; the redelivered ones make nothing.
    deadline, made, handled = time.monotonic() + 15, 0, 0
    while time.monotonic() < deadline and handled < 11:
        h, m = asyncio.run(run(consumer(nats_url, stream, batch_size=4, ack_wait=1.0), db_url))
        handled, made = handled + h, made + m
        time.sleep(0.3)
    assert handled == 11
    assert made == 7
    planned = rows(db_url)
    assert len(planned) == len(set(planned)) == len(users)
    assert sorted(r[1] for r in planned) == sorted(u.email for u in users)
    assert asyncio.run(pending(nats_url, stream)) == (0, 0)


def test_notifier_with_the_stream_sends_each_email_once(db_url, world, nats_url, stream, tmp_path):
    users = [world.user() for _ in range(3)]
    drain(make_relay(db_url, nats_url, stream), db_url)
    smtp = SmtpServer().start()
    try:

        async def go() -> None:
            notifier = Notifier(
                database_url=db_url,
                transport=lambda: SmtpTransport(smtp.url, timeout=5),
                lease=FileLease("notifications-stream-test", 10.0, scope=str(tmp_path)),
                stream=consumer(nats_url, stream),
            )
            try:
                assert await notifier.run_pass() == (3, 3)
                assert await notifier.run_pass() == (0, 0)  # a restart-like second pass
            finally:
                assert notifier.stream is not None
                await notifier.stream.close()

        asyncio.run(go())
        got = smtp.inbox.wait_for(lambda m: len(m) >= 3, timeout=10)
        assert sorted(m.to for m in got) == sorted(u.email for u in users)
        time.sleep(0.3)
        assert len(smtp.inbox.messages) == 3
    finally:
        smtp.stop()


def test_with_the_stream_smtp_down_then_up_delivers_once(db_url, world, nats_url, stream, tmp_path):
    """The fault test of the outbox path, on the JetStream path: planned while SMTP is down
    (the messages are acked: the rows hold them now), sent once when it is back."""
    smtp = SmtpServer()  # not started: down
    users = [world.user() for _ in range(3)]
    drain(make_relay(db_url, nats_url, stream), db_url)

    async def go() -> None:
        notifier = Notifier(
            database_url=db_url,
            transport=lambda: SmtpTransport(smtp.url, timeout=5),
            lease=FileLease("notifications-stream-smtp", 10.0, scope=str(tmp_path)),
            stream=consumer(nats_url, stream),
        )
        try:
            assert await notifier.run_pass() == (3, 0)  # planned, not sent
            assert await pending(nats_url, stream) == (0, 0)
            smtp.start()
            deadline = time.monotonic() + 15
            while len(smtp.inbox.messages) < 3 and time.monotonic() < deadline:
                await notifier.run_pass()  # nothing until the back-off has passed
                await asyncio.sleep(0.1)
            assert (await notifier.run_pass())[0] == 0  # nothing planned twice
        finally:
            assert notifier.stream is not None
            await notifier.stream.close()

    try:
        asyncio.run(go())
        for user in users:
            assert len(smtp.inbox.to(user.email)) == 1
        assert {(r.status, r.attempts) for r in delivery_rows(db_url)} == {("sent", 2)}
    finally:
        smtp.stop()


def delivery_rows(db_url: str) -> list[Any]:
    with get_engine(db_url).connect() as conn:
        return list(conn.execute(sa.select(Delivery.__table__)))
