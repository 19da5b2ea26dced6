"""A multipart upload of one file, read as it arrives with a hard size limit.

Starlette's `request.form()` would spool a file part of any size to disk before the route
sees it; here the body is parsed chunk by chunk (python-multipart's streaming parser) and the
read stops — 413 — as soon as the file passes `limit` bytes, or the whole body passes
`limit + OVERHEAD`. Only the named part's bytes are kept, once, in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ticketing_app.api.deps import BodyTooLarge
from ticketing_app.errors import ValidationError

OVERHEAD = 64 * 1024  # boundaries, part headers, a stray small field
NOT_MULTIPART = "Send the file as multipart/form-data in the field `{field}`"
MISSING = "A file is required in the field `{field}`"


@dataclass(frozen=True)
class Upload:
    # The bytes as they were collected (a bytearray: no 5 MB copy into `bytes` on the event
    # loop; the service takes any bytes-like value, in the threadpool).
    data: bytearray
    filename: str | None


class _Collector:
    """The parser's callbacks: keeps the bytes of the part named `field`, counting them."""

    def __init__(self, field: str, limit: int, too_large: str) -> None:
        self.field, self.limit, self.too_large = field, limit, too_large
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.current: bytearray | None = None
        self.found: bytearray | None = None
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
            self.current = self.found = bytearray()
            raw = options.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None:
            return
        # A view, not `data[start:end]`: appending a slice copied every chunk once more.
        self.current += memoryview(data)[start:end]
        if len(self.current) > self.limit:
            raise BodyTooLarge(self.too_large, self.field)

    def on_part_end(self) -> None:
        self.current = None

    def callbacks(self) -> dict[str, object]:
        names = (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished", "on_part_data", "on_part_end",
        )  # fmt: skip
        return {name: getattr(self, name) for name in names}


async def read_upload(request: Request, *, field: str, limit: int, too_large: str) -> Upload:
    """The file in multipart part `field`: 413 past `limit` bytes (read at most limit + 1 of
    it), 400 on `field` for a body that is not multipart or has no such part."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ValidationError(NOT_MULTIPART.format(field=field), field)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + OVERHEAD:
        raise BodyTooLarge(too_large, field)
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
    return Upload(data=collector.found, filename=collector.filename)
