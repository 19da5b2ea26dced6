"""Delivering the ticket (SPEC §10): the seller's file, the e-ticket PDF, verification.

Who may read what is `services/delivery` (one access rule); these routes parse, call it and
serialise. The upload is read in the event loop as it arrives (api/uploads.py, hard 5 MB
limit), at most TICKETING_UPLOAD_CONCURRENCY at once per worker (upload_slot); everything
touching the database or the CPU runs in the threadpool.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ticketing_app.api.deps import (
    MaybeUser,
    SessionToken,
    optional_user,
    refuse_cross_site,
    signed_in_or_401,
)
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import TicketOut, VerifyOut
from ticketing_app.api.uploads import Upload, check_upload_headers, read_upload, upload_slot
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import ValidationError
from ticketing_app.models import utcnow
from ticketing_app.services import delivery, files
from ticketing_app.services.eticket_pdf import render_eticket_pdf
from ticketing_app.services.views import ticket_view

router = APIRouter(tags=["delivery"])

PRIVATE = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
}
_MULTIPART_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, PNG or JPEG, at most 5 MB (type read from "
                            "the content)",
                        }
                    },
                }
            }
        },
    }
}
_BYTES_DOC = {
    "description": "The file's bytes, as an attachment",
    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in files.EXTENSIONS},
}


def attachment(filename: str) -> str:
    """`Content-Disposition: attachment` with an ASCII name and the exact one (RFC 6266)."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@router.put(
    "/api/tickets/{ticket_id}/file",
    response_model=TicketOut,
    responses=error_responses(400, 401, 403, 404, 413, 503),
    openapi_extra=_MULTIPART_DOC,
    summary="Attach (or, while available, replace) the ticket file: seller only",
)
async def put_ticket_file(ticket_id: str, request: Request, token: SessionToken) -> JSONResponse:
    # 401, 404, 403 and a frozen ticket's 400 before reading the upload.
    user = signed_in_or_401(await run_in_threadpool(optional_user, token))
    await run_in_threadpool(_check_can_attach, user.id, ticket_id)
    refuse_cross_site(request)
    limits = {"field": files.FIELD, "limit": files.MAX_FILE_BYTES, "too_large": files.TOO_LARGE}
    boundary = check_upload_headers(request, **limits)  # 400/413 on the headers: no queueing
    async with upload_slot():  # the body is not read until a slot is free (503 after a wait)
        upload = await read_upload(request, boundary, **limits)
        ticket = await run_in_threadpool(_attach, user.id, ticket_id, upload)
    return JSONResponse(ticket_view(ticket))


def _check_can_attach(user_id: str, ticket_id: str) -> None:
    with read_session() as db:
        delivery.check_can_attach(db, user_id=user_id, ticket_id=ticket_id)


def _attach(user_id: str, ticket_id: str, upload: Upload):  # noqa: ANN202
    with write_session() as db:
        return delivery.attach_ticket_file(
            db,
            user_id=user_id,
            ticket_id=ticket_id,
            data=upload.data(),  # the one copy, here in the threadpool rather than on the loop
            filename=upload.filename,
            now=utcnow(),
        )


@router.get(
    "/api/tickets/{ticket_id}/file",
    response_class=Response,
    responses={200: _BYTES_DOC, **error_responses(401, 403, 404)},
    summary="Download the ticket file: the seller, and the buyer of its completed order",
)
def get_ticket_file(ticket_id: str, user: MaybeUser) -> Response:
    with read_session() as db:
        stored = delivery.readable_file(db, user_id=user and user.id, ticket_id=ticket_id)
    return Response(
        stored.data,
        media_type=stored.meta.content_type,
        headers={**PRIVATE, "Content-Disposition": attachment(stored.meta.filename)},
    )


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None or tz == "":
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        message = "Unknown time zone (use an IANA name like Europe/Paris)"
        raise ValidationError(message, "tz") from None


@router.get(
    "/api/orders/{order_id}/ticket.pdf",
    response_class=Response,
    responses={
        200: {
            "description": "The e-ticket (A4 PDF) with its QR code",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(400, 401, 403, 404),
    },
    summary="The buyer's e-ticket for a completed order",
)
def get_eticket_pdf(
    order_id: str,
    user: MaybeUser,
    tz: Annotated[
        str | None, Query(description="IANA time zone for the start time (default UTC)")
    ] = None,
) -> Response:
    with read_session() as db:
        data = delivery.eticket_for_order(db, user_id=user and user.id, order_id=order_id)
    pdf = render_eticket_pdf(data, _zone(tz))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={**PRIVATE, "Content-Disposition": attachment(f"e-ticket-{data.order_id}.pdf")},
    )


@router.get(
    "/api/verify/{code}",
    response_model=VerifyOut,
    responses=error_responses(404),
    summary="Check an e-ticket's code (what its QR code links to)",
)
def verify(code: str) -> JSONResponse:
    with read_session() as db:
        result = delivery.verify_code(db, code)
    return JSONResponse(result, headers={"Cache-Control": "no-store"})
