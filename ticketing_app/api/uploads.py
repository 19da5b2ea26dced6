"""A multipart upload of one file, read as it arrives with a hard size limit.

Starlette's `request.form()` would spool a file part of any size to disk before the route
sees it; here the body is parsed chunk by chunk (python-multipart's streaming parser) and the
read stops — 413 — as soon as the file passes `limit` bytes, or the whole body passes
`limit + OVERHEAD`. Only the named part's bytes are kept, once, in memory.

`upload_slot()` bounds the uploads one worker reads, parses and stores at once
(TICKETING_UPLOAD_CONCURRENCY). An upload waiting for a slot has not had a byte of its body
read: the server stops reading that connection, TCP holds the sender back, and the wait costs
the event loop nothing. Ten uploads streamed side by side at loopback speed otherwise kept the
loop (and the GIL) busy enough to delay every other request by ~15 ms at p99 (docs/
performance.md, "Ticket-file uploads and the event loop"). A wait longer than
TICKETING_UPLOAD_WAIT_SECONDS ends in 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ticketing_app.api.deps import BodyTooLarge
from ticketing_app.errors import ServiceUnavailable, ValidationError
from ticketing_app.settings import get_settings

OVERHEAD = 64 * 1024  # boundaries, part headers, a stray small field
NOT_MULTIPART = "Send the file as multipart/form-data in the field `{field}`"
MISSING = "A file is required in the field `{field}`"
BUSY = "Too many uploads right now. Try again in a few seconds."
RETRY_AFTER_SECONDS = 5


class UploadsBusy(ServiceUnavailable):
    """No upload slot came free within TICKETING_UPLOAD_WAIT_SECONDS (503, Retry-After)."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self) -> None:
        super().__init__(BUSY)


# One semaphore per event loop (a worker has one; tests may run several apps' loops).
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def upload_slot() -> AsyncIterator[None]:
    """Hold one of this worker's TICKETING_UPLOAD_CONCURRENCY upload slots (first come, first
    served); UploadsBusy if none comes free within TICKETING_UPLOAD_WAIT_SECONDS."""
    settings = get_settings()
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(settings.ticketing_upload_concurrency)
    try:
        await asyncio.wait_for(slots.acquire(), settings.ticketing_upload_wait_seconds)
    except TimeoutError:
        raise UploadsBusy() from None
    try:
        yield
    finally:
        slots.release()


@dataclass(frozen=True)
class Upload:
    """The file as the pieces it arrived in (the server's body chunks, kept, not copied) and
    its name. `data()` joins them: call it in the threadpool, not on the event loop."""

    pieces: list[bytes]
    filename: str | None

    def data(self) -> bytes:
        # One 5 MB copy, and `bytes.join` of exact `bytes` releases the GIL while it copies
        # (a `bytearray` append or `bytes(bytearray)` holds it throughout: the loop, or any
        # thread, waited for the whole copy and its page faults).
        return b"".join(self.pieces)


class _Collector:
    """The parser's callbacks: keeps the bytes of the part named `field`, counting them."""

    def __init__(self, field: str, limit: int, too_large: str) -> None:
        self.field, self.limit, self.too_large = field, limit, too_large
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.current: list[bytes] | None = None
        self.found: list[bytes] | None = None
        self.size = 0
        self.filename: str | None = None

    def on_part_begin(self) -> None:
        self.disposition = b""
        self.current = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == self.field and self.found is None:
            self.current = self.found = []
            raw = options.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None:
            return
        if type(data) is bytes and start == 0 and end == len(data):
            self.current.append(data)  # the whole chunk (all but the first and last): no copy
        else:  # an edge chunk, or the parser's own (reused) buffer: copy the piece
            self.current.append(bytes(data[start:end]))
        self.size += end - start
        if self.size > self.limit:
            raise BodyTooLarge(self.too_large, self.field)

    def on_part_end(self) -> None:
        self.current = None

    def callbacks(self) -> dict[str, object]:
        names = (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished", "on_part_data", "on_part_end",
        )  # fmt: skip
        return {name: getattr(self, name) for name in names}


def check_upload_headers(request: Request, *, field: str, limit: int, too_large: str) -> bytes:
    """The multipart boundary; 400 on `field` for a body that is not multipart, 413 for one
    whose declared length is over the limit — before waiting for a slot or reading a byte."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ValidationError(NOT_MULTIPART.format(field=field), field)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + OVERHEAD:
        raise BodyTooLarge(too_large, field)
    return boundary


async def read_upload(
    request: Request, boundary: bytes, *, field: str, limit: int, too_large: str
) -> Upload:
    """The file in multipart part `field` of a body whose headers `check_upload_headers`
    passed (`boundary`, what it returned): 413 past `limit` bytes (read at most limit + 1 of
    it), 400 on `field` for a body that is not valid multipart or has no such part."""
    collector = _Collector(field, limit, too_large)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit + OVERHEAD:
                raise BodyTooLarge(too_large, field)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise ValidationError(NOT_MULTIPART.format(field=field), field) from None
    if collector.found is None:
        raise ValidationError(MISSING.format(field=field), field)
    return Upload(pieces=collector.found, filename=collector.filename)
