"""JetStream side of the events: connection, the stream, subjects and the message format.

A message's body is a JSON envelope a consumer can act on without calling back:
`{id, seq, type, aggregateType, aggregateId, version, occurredAt, data}` where `data` is the
event's payload (docs/events.md). Header `Nats-Msg-Id` is the event id, so JetStream drops a
re-publish of the same event inside the stream's duplicate window.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ticketing_app.models import iso

log = logging.getLogger(__name__)

# How long JetStream remembers message ids. It must outlast the longest gap between publishing
# an event and marking it published (a relay dying in between, the app down for a while), since
# that is how long a re-publish of the same event must still be recognised as a duplicate.
DUPLICATE_WINDOW_SECONDS = 24 * 3600
MSG_ID = "Nats-Msg-Id"
EVENT_TYPE_HEADER = "Ticketing-Event-Type"
REPLAY_HEADER = "Ticketing-Replay"


def subject(prefix: str, aggregate_type: str, event_type: str) -> str:
    """`ticketing.<aggregate>.<event>` (outbox.subject_for) under a configurable prefix."""
    return f"{prefix}.{aggregate_type}.{event_type}"


def _head(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "type": row.type,
        "aggregateType": row.aggregate_type,
        "aggregateId": row.aggregate_id,
        "version": row.aggregate_version,
        "occurredAt": iso(row.created_at),
    }


def envelope(row: Any) -> dict[str, Any]:
    """The message body as a dict (for tools; the relay sends `encode(row)`)."""
    return {**_head(row), "data": json.loads(row.payload)}


def encode(row: Any) -> bytes:
    """The envelope's JSON; the stored payload text is spliced in as `data`, not re-parsed."""
    head = json.dumps(_head(row), separators=(",", ":"))
    return f'{head[:-1]},"data":{row.payload}}}'.encode()


async def connect(
    url: str, *, name: str = "ticketing", connect_timeout: float = 2.0, reconnect_attempts: int = 3
) -> Client:
    """A connection that rides out short outages by itself (`reconnect_attempts` tries, 0.5 s
    apart) and otherwise fails, so callers retry on their own terms. The first connect fails
    after the same tries (never hangs)."""
    return await nats.connect(
        url,
        name=name,
        connect_timeout=connect_timeout,
        allow_reconnect=True,
        max_reconnect_attempts=reconnect_attempts,
        reconnect_time_wait=0.5,
        # The caller logs failures; nats-py's default callbacks would print tracebacks each try.
        error_cb=_quiet,
        disconnected_cb=_quiet_none,
        reconnected_cb=_quiet_none,
    )


async def _quiet(exc: Exception) -> None:
    log.debug("nats: %s", exc)


async def _quiet_none() -> None:
    return None


async def ensure_stream(js: JetStreamContext, name: str, prefix: str) -> None:
    """Create the stream if missing; widen its subjects or duplicate window if they fall short."""
    wanted = f"{prefix}.>"
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=name,
                subjects=[wanted],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
        )
        log.info("created JetStream stream %s (%s)", name, wanted)
        return
    config = info.config
    subjects = list(config.subjects or [])
    if wanted in subjects and (config.duplicate_window or 0) >= DUPLICATE_WINDOW_SECONDS:
        return
    if wanted not in subjects:
        subjects.append(wanted)
    config.subjects = subjects
    config.duplicate_window = max(config.duplicate_window or 0, DUPLICATE_WINDOW_SECONDS)
    await js.update_stream(config)
    log.info(
        "updated JetStream stream %s: subjects %s, duplicate window %ss",
        name,
        subjects,
        config.duplicate_window,
    )
