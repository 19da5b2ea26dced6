"""`python -m ticketing_app.outbox tail|replay` — watch the event stream, re-send history.

tail    follows the JetStream stream and prints each event (pretty, or `--json` lines).
replay  re-publishes outbox events from `--since` (an outbox seq, inclusive, or an ISO time)
        to the stream. Each copy gets the message id `<event id>:replay:<timestamp>`, so
        JetStream stores it even inside the duplicate window (a replay with the event's own id
        would be silently dropped); consumers de-duplicate by the envelope's `id`, which is
        unchanged, and can recognise a replay by the `Ticketing-Replay` header. The outbox's
        `published_at` is left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from nats.js.api import DeliverPolicy

from ticketing_app.db import normalize_url
from ticketing_app.outbox import store
from ticketing_app.outbox.stream import (
    EVENT_TYPE_HEADER,
    MSG_ID,
    REPLAY_HEADER,
    connect,
    encode,
    ensure_stream,
    subject,
)
from ticketing_app.settings import get_settings


def parse_since(value: str) -> tuple[int | None, datetime | None]:
    """`42` → events from seq 42 on; `2026-11-25T12:00:00Z` → created at or after that time."""
    text = value.strip()
    if text.isdigit():
        return int(text), None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since must be an outbox seq (e.g. 42) or an ISO time "
            f"(e.g. 2026-11-25T12:00:00Z), not {value!r}"
        ) from None
    return None, when if when.tzinfo else when.replace(tzinfo=UTC)


def pretty(body: dict[str, Any], subject_name: str, replay: str | None = None) -> str:
    head = (
        f"{body.get('occurredAt', '?')}  #{body.get('seq', '?')}  {subject_name}  "
        f"{body.get('aggregateType', '?')} {body.get('aggregateId', '?')} "
        f"v{body.get('version', '?')}  id={body.get('id', '?')}"
    )
    if replay:
        head += f"  (replay {replay})"
    data = json.dumps(body.get("data", {}), sort_keys=True, ensure_ascii=False)
    return f"{head}\n    {data}"


async def tail(args: argparse.Namespace) -> int:
    nc = await connect(args.nats_url, name="ticketing-tail")
    try:
        js = nc.jetstream()
        await ensure_stream(js, args.stream, args.prefix)
        sub = await js.subscribe(
            f"{args.prefix}.>",
            stream=args.stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL if args.all else DeliverPolicy.NEW,
        )
        if not args.json:
            print(f"following {args.stream} ({args.prefix}.>) on {args.nats_url}", flush=True)
        seen = 0
        async for msg in sub.messages:
            headers = msg.headers or {}
            try:
                body = json.loads(msg.data)
            except ValueError:
                body = {"data": msg.data.decode(errors="replace")}
            if args.json:
                print(json.dumps(body, sort_keys=True), flush=True)
            else:
                print(pretty(body, msg.subject, headers.get(REPLAY_HEADER)), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
        return 0
    finally:
        await nc.close()


async def replay(args: argparse.Namespace) -> int:
    since_seq, since_time = args.since
    rows = await asyncio.to_thread(
        store.fetch_since,
        args.database_url,
        since_seq=None if since_seq is None else since_seq - 1,
        since_time=since_time,
        limit=args.limit,
    )
    if not rows:
        print("nothing to replay")
        return 0
    if args.dry_run:
        for row in rows:
            print(f"#{row.seq}  {row.type}  {row.aggregate_type} {row.aggregate_id}  id={row.id}")
        print(f"{len(rows)} events would be replayed (dry run)")
        return 0
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    nc = await connect(args.nats_url, name="ticketing-replay")
    try:
        js = nc.jetstream()
        await ensure_stream(js, args.stream, args.prefix)
        futures = [
            await js.publish_async(
                subject(args.prefix, row.aggregate_type, row.type),
                encode(row),
                headers={
                    MSG_ID: f"{row.id}:replay:{stamp}",
                    EVENT_TYPE_HEADER: row.type,
                    REPLAY_HEADER: stamp,
                },
            )
            for row in rows
        ]
        await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
    finally:
        await nc.close()
    print(f"replayed {len(rows)} events (seq {rows[0].seq}..{rows[-1].seq}) to {args.stream}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    s = get_settings()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--nats-url",
        default=s.nats_url or "nats://127.0.0.1:4222",
        help="NATS server (default: NATS_URL, else nats://127.0.0.1:4222)",
    )
    common.add_argument("--stream", default=s.nats_stream, help="JetStream stream name")
    common.add_argument("--prefix", default=s.nats_subject_prefix, help="subject prefix")
    parser = argparse.ArgumentParser(
        prog="python -m ticketing_app.outbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser("tail", parents=[common], help="follow the stream and print each event")
    t.add_argument("--all", action="store_true", help="start from the first stored event")
    t.add_argument("--count", type=int, default=0, help="exit after this many events")
    t.add_argument("--json", action="store_true", help="one JSON envelope per line")

    r = commands.add_parser(
        "replay", parents=[common], help="re-publish outbox events to the stream"
    )
    r.add_argument(
        "--since",
        required=True,
        type=parse_since,
        help="outbox seq (inclusive) or ISO 8601 time, e.g. 2026-11-25T12:00:00Z",
    )
    r.add_argument("--limit", type=int, default=100_000, help="at most this many events")
    r.add_argument(
        "--database-url",
        default=s.database_url,
        type=normalize_url,
        help="outbox database (default: DATABASE_URL)",
    )
    r.add_argument("--dry-run", action="store_true", help="list what would be sent")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = tail if args.command == "tail" else replay
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear one-line reason, not a traceback
        reason = (str(exc).splitlines() or [""])[0]
        print(f"error: {type(exc).__name__}: {reason}", file=sys.stderr)
        return 1
