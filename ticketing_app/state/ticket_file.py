"""The seller's ticket file on `/tickets/[id]` (SPEC §10): show what is attached,
attach or replace it with `rx.upload`.

The upload streams (`rx.upload_files_chunk` into a background handler): the handler checks
who is asking before it reads a byte, stops reading past MAX_FILE_BYTES, and hands the bytes
to the same service as PUT /api/tickets/{id}/file (type, structure and freeze rules there).
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import delivery, files
from ticketing_app.state.common import signed_in_user
from ticketing_app.state.snapshot import PageState

UPLOAD_ID = "ticket-file"


def _ticket_id(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _meta(user_id: str | None, ticket_id: str) -> files.FileMeta | None:
    with read_session() as db:
        return delivery.file_meta(db, user_id=user_id, ticket_id=ticket_id)


def _check(user_id: str, ticket_id: str) -> None:
    with read_session() as db:
        delivery.check_can_attach(db, user_id=user_id, ticket_id=ticket_id)


async def read_upload(chunks: rx.UploadChunkIterator) -> tuple[bytes, str | None]:
    """The uploaded file's bytes and name, read as they stream in: DomainError (413's
    message) as soon as it passes MAX_FILE_BYTES, so no more than 5 MB + 1 chunk is held.
    The one read of a page upload (this panel and the listing form)."""
    data, name = bytearray(), None
    async for chunk in chunks:
        name = name or chunk.filename
        data += chunk.data
        if len(data) > files.MAX_FILE_BYTES:
            raise DomainError(files.TOO_LARGE, files.FIELD)
    return bytes(data), name


def attach(user_id: str, ticket_id: str, data: bytes, name: str | None) -> None:
    """Attach through the service of PUT /api/tickets/{id}/file (blocking: run in a thread)."""
    with write_session() as db:
        delivery.attach_ticket_file(
            db, user_id=user_id, ticket_id=ticket_id, data=data, filename=name, now=utcnow()
        )


class TicketFileState(PageState, rx.State):
    file_name: str = ""  # what is attached ("" : nothing), for whoever may read it
    file_error: str = ""
    uploading: bool = False
    progress: int = 0

    @rx.event
    def load(self) -> None:
        self.file_error, self.uploading, self.progress = "", False, 0
        user = signed_in_user(self)
        meta = _meta(user and user["id"], _ticket_id(self.router.url.path))
        self.file_name = meta.filename if meta else ""

    @rx.event
    def on_progress(self, progress: dict[str, Any]) -> None:
        self.progress = min(100, round(float(progress.get("progress", 0) or 0) * 100))

    @rx.event
    def refused(self, rejections: list[Any]) -> None:
        """The dropzone's own refusal (wrong type or over the size it was told)."""
        self.file_error = f"{files.WRONG_TYPE}, at most 5 MB"

    @rx.event(background=True)
    async def upload(self, chunks: rx.UploadChunkIterator):  # noqa: ANN201
        async with self:
            user = signed_in_user(self)
            ticket_id = _ticket_id(self.router.url.path)
            self.file_error, self.uploading = "", True
        if user is None:
            async with self:
                self.file_error, self.uploading = delivery.SIGN_IN, False
            return
        try:
            await asyncio.to_thread(_check, user["id"], ticket_id)  # before reading a byte
            data, name = await read_upload(chunks)
            await asyncio.to_thread(attach, user["id"], ticket_id, data, name)
        except DomainError as exc:
            async with self:
                self.file_error, self.uploading = exc.message, False
            return
        meta = await asyncio.to_thread(_meta, user["id"], ticket_id)
        async with self:
            self.file_name = meta.filename if meta else ""
            self.uploading, self.progress = False, 100
        yield rx.toast.success("Ticket file attached")
