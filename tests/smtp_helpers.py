"""A real SMTP server for the email tests: aiosmtpd's `Controller` on a loopback port, with
an inbox the tests wait on. A plain module (no fixtures), imported as `tests.smtp_helpers`."""

from __future__ import annotations

import email
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One message the server accepted: who it was for and the parsed email."""

    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool = False
    login: str | None = None
    raw: bytes = b""  # the message as it came over the wire

    @property
    def raw_headers(self) -> bytes:
        return self.raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, self.message
        return body.get_content()

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def link(self, path_prefix: str) -> str:
        """The one URL in the text part whose path starts with `path_prefix`."""
        found = re.findall(r"https?://\S+?" + re.escape(path_prefix) + r"[^\s\"<]*", self.text)
        assert len(set(found)) == 1, (path_prefix, self.text)
        assert found[0] in self.html, "the HTML part carries the same link"
        return found[0]

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """(filename, content type, bytes) of each attachment."""
        return [
            (part.get_filename() or "", part.get_content_type(), part.get_content())
            for part in self.message.iter_attachments()
        ]

    def token(self, path_prefix: str) -> str:
        return self.link(path_prefix).rsplit("/", 1)[1]


class Inbox:
    """aiosmtpd handler: keeps every accepted message; tests wait on conditions."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        with self._cond:
            auth = session.auth_data if session.authenticated else None
            login = auth.login.decode() if auth is not None else None
            received = Received(
                list(envelope.rcpt_tos),
                parsed,  # type: ignore[arg-type]
                tls=session.ssl is not None,
                login=login,
                raw=bytes(envelope.content),
            )
            self.messages.append(received)
            self._cond.notify_all()
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 15.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out; inbox: {[(m.to, m.subject) for m in self.messages]}"
                    )
                self._cond.wait(left)
            return list(self.messages)

    def wait_to(self, address: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        self.wait_for(lambda _: len(self.to(address)) >= count, timeout)
        return self.to(address)


class SmtpServer:
    """A start/stop-able aiosmtpd server on a fixed loopback port (down, then up again)."""

    def __init__(self, port: int | None = None, **controller_kwargs: Any) -> None:
        """`controller_kwargs` go to aiosmtpd's Controller (tls_context for STARTTLS,
        ssl_context for implicit TLS, authenticator, auth_required…)."""
        self.port = port or free_port()
        self.inbox = Inbox()
        self.controller_kwargs = controller_kwargs
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.controller_kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
