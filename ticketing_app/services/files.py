"""Ticket files (SPEC §10): what a file may be, and where its bytes are kept.

`inspect_file` reads the type from the bytes (puremagic), never from the name, allows only
PDF, PNG and JPEG of at most MAX_FILE_BYTES, and checks enough of the structure that an empty
file, an HTML page named ticket.pdf or a truncated download is refused. Nothing here opens a
transaction: the store writes on the caller's connection, inside the transaction that also
marks the ticket (services/delivery.attach_ticket_file), so a file is stored only once every
check has passed and the ticket says `hasFile` exactly when its row exists.

`FileStore` is the seam for keeping bytes elsewhere (object storage) later; the database
store is the default and the only one today.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import puremagic
import sqlalchemy as sa

from ticketing_app.errors import ValidationError
from ticketing_app.models import TICKET_FILE_NAME_MAX, TicketFile

MAX_FILE_BYTES = 5 * 1024 * 1024
PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg"}
FIELD = "file"
EMPTY_FILE = "The file is empty"
WRONG_TYPE = "The ticket file must be a PDF, PNG or JPEG"
TOO_LARGE = f"The ticket file must be at most {MAX_FILE_BYTES // (1024 * 1024)} MB"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def broken(kind: str) -> ValidationError:
    return ValidationError(f"The file is not a complete {kind} (damaged or cut short?)", FIELD)


@dataclass(frozen=True)
class FileMeta:
    content_type: str
    size: int
    sha256: str
    filename: str


@dataclass(frozen=True)
class StoredFile:
    meta: FileMeta
    data: bytes


def inspect_file(data: bytes, filename: str | None) -> FileMeta:
    """The file's type, size, digest and a safe name, or a 400 on `file` saying what is wrong.
    The name's extension is replaced by the one of the type the bytes are."""
    if not data:
        raise ValidationError(EMPTY_FILE, FIELD)
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(TOO_LARGE, FIELD)  # the route answers 413 before this
    content_type = _sniff(data)
    _check_structure(content_type, data)
    return FileMeta(
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        filename=safe_filename(filename, content_type),
    )


def _sniff(data: bytes) -> str:
    try:
        guessed = puremagic.from_string(data[:4096], mime=True)
    except (ValueError, puremagic.PureError):
        raise ValidationError(WRONG_TYPE, FIELD) from None
    # puremagic matches signatures anywhere near the start; ours must begin the file.
    if guessed == PDF and data.startswith(b"%PDF-"):
        return PDF
    if guessed == PNG and data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if guessed == JPEG and data.startswith(b"\xff\xd8\xff"):
        return JPEG
    raise ValidationError(WRONG_TYPE, FIELD)


def _check_structure(content_type: str, data: bytes) -> None:
    """A PDF ends with its `%%EOF` marker; a PNG's chunks check out (CRCs) up to IEND, which
    ends the file; a JPEG's headers parse and its end-of-image marker is there (FF D9 cannot
    occur inside the compressed data, so a cut-off file lacks it)."""
    if content_type == PDF:
        if b"%%EOF" not in data[-1024:]:
            raise broken("PDF")
        return
    from PIL import Image  # Pillow comes with fpdf2

    kind = "PNG" if content_type == PNG else "JPEG"
    if content_type == PNG and not data.endswith(_PNG_IEND):
        raise broken(kind)
    if content_type == JPEG and b"\xff\xd9" not in data[-64:]:
        raise broken(kind)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception:  # Pillow raises many types for a bad image, bombs included
        raise broken(kind) from None


_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')


def safe_filename(filename: str | None, content_type: str) -> str:
    """The uploaded name without a path, control or quote characters, with the extension
    of the real type; `ticket.<ext>` when nothing is left."""
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    stem = _UNSAFE.sub("_", name.rsplit(".", 1)[0] if "." in name else name).strip(" ._")
    extension = EXTENSIONS[content_type]
    stem = stem[: TICKET_FILE_NAME_MAX - len(extension) - 1] or "ticket"
    return f"{stem}.{extension}"


class FileStore(Protocol):
    """Where a ticket's bytes are kept. `save` runs inside the caller's transaction (the one
    marking the ticket), `load` in any read."""

    def save(self, conn: sa.Connection, *, ticket_id: str, data: bytes, meta: FileMeta,
             now: datetime) -> None: ...  # fmt: skip

    def load(self, conn: sa.Connection, ticket_id: str) -> StoredFile | None: ...


_FILES = TicketFile.__table__


class DatabaseFileStore:
    """The bytes in `ticket_files.data` (bytea / BLOB): backed up with the database."""

    def save(
        self, conn: sa.Connection, *, ticket_id: str, data: bytes, meta: FileMeta, now: datetime
    ) -> None:
        values = {
            "content_type": meta.content_type,
            "size": meta.size,
            "sha256": meta.sha256,
            "filename": meta.filename,
            "data": data,
            "updated_at": now,
        }
        replaced = conn.execute(
            sa.update(_FILES).where(_FILES.c.ticket_id == ticket_id).values(**values)
        ).rowcount
        if not replaced:
            # The caller's conditional UPDATE of the ticket row serialises attaches of one
            # ticket, so no other transaction inserts this row in between.
            conn.execute(sa.insert(_FILES).values(ticket_id=ticket_id, created_at=now, **values))

    def load(self, conn: sa.Connection, ticket_id: str) -> StoredFile | None:
        row = conn.execute(sa.select(_FILES).where(_FILES.c.ticket_id == ticket_id)).first()
        if row is None or row.data is None:
            return None
        meta = FileMeta(row.content_type, row.size, row.sha256, row.filename)
        return StoredFile(meta=meta, data=bytes(row.data))


def file_store() -> FileStore:
    """The configured store (only the database one exists)."""
    return DatabaseFileStore()
