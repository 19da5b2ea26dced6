"""The seller's ticket-file panel (SPEC §10) on the ticket page: drop or pick a PDF, PNG or
JPEG (≤ 5 MB); "File attached ✓" with its name; the reason inline when refused."""

from __future__ import annotations

import reflex as rx

from ticketing_app.state.ticket_file import UPLOAD_ID, TicketFileState

F = TicketFileState
ACCEPT = {"application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]}


def ticket_dropzone(upload_id: str, test_id: str, **handlers: object) -> rx.Component:
    """The drop-or-pick zone for one ticket file, wrapped in a <label> (its text labels the
    file input, for screen readers): on the ticket page (uploads on drop) and on the listing
    form (no on_drop: the chosen file goes with the submit)."""
    zone = rx.upload.root(
        rx.vstack(
            rx.icon("file-up"),
            rx.text("Drop the ticket here (PDF, PNG or JPEG, at most 5 MB) or click to pick it"),
            align="center",
            spacing="1",
        ),
        id=upload_id,
        accept=ACCEPT,
        max_files=1,
        multiple=False,
        border="1px dashed var(--gray-a7)",
        padding="1rem",
        border_radius="8px",
        width="100%",
        cursor="pointer",
        data_testid=test_id,
        **handlers,
    )
    return rx.el.label(zone, display="block", width="100%")


def ticket_file_panel(can_change: rx.Var) -> rx.Component:
    """`can_change`: whether the ticket takes a file now (available, or nothing attached)."""
    attached = rx.cond(
        F.file_name != "",
        rx.text(
            "File attached ✓ ",
            rx.text.strong(F.file_name),
            size="2",
            color_scheme="green",
            data_testid="file-attached",
        ),
        rx.text(
            "No ticket file yet: the buyer gets it once they have paid.",
            size="2",
            color_scheme="gray",
        ),
    )
    dropzone = ticket_dropzone(
        UPLOAD_ID,
        "ticket-file-drop",
        on_drop_rejected=F.refused,
        on_drop=F.upload(
            rx.upload_files_chunk(upload_id=UPLOAD_ID, on_upload_progress=F.on_progress)
        ),
    )
    return rx.vstack(
        rx.heading("Ticket file", size="4"),
        attached,
        rx.cond(can_change, dropzone),
        rx.cond(F.uploading, rx.progress(value=F.progress, width="100%")),
        rx.cond(
            F.file_error != "",
            rx.callout(
                F.file_error,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                data_testid="file-error",
            ),
        ),
        spacing="2",
        width="100%",
    )
