"""Mail transports (SPEC §11): SMTP from SMTP_URL, or `.eml` files in TICKETING_MAIL_DIR.

Synchronous (smtplib): the notifications sender calls them from its worker thread, never from
a request or inside a database transaction. A transport is opened for a batch of messages
(`with transport: transport.send(msg)`) so a burst shares one SMTP connection.

- `smtp://user:pass@host:587`: plain connection, upgraded with STARTTLS whenever the server
  offers it, then AUTH when the URL has a user.
- `smtps://user:pass@host:465`: implicit TLS from the first byte.
- No SMTP_URL: each message is written to `<dir>/<message key>.eml` (written to a temporary
  name, then renamed: a reader never sees half a file, and writing the same key twice leaves
  one file).
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ticketing_app.settings import get_settings


class PermanentFailure(Exception):
    """The server refused this message for good (5xx): retrying will not help."""


class Transport:
    name = "transport"

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: Message, *, key: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection (no-op when none is open)."""


class SmtpTransport(Transport):
    name = "smtp"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must be smtp://… or smtps://…")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        self.timeout = timeout
        self.tls_context = ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.tls_context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if not self.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except Exception:
            with contextlib.suppress(Exception):
                smtp.close()
            raise
        return smtp

    def send(self, message: Message, *, key: str) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentFailure(str(exc)) from exc
            self.close()
            raise
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600 and not isinstance(exc, smtplib.SMTPSenderRefused):
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            self.close()
            raise
        except Exception:
            self.close()  # a broken connection: the next send reconnects
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.quit()
            with contextlib.suppress(Exception):
                smtp.close()


class FileTransport(Transport):
    name = "files"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, message: Message, *, key: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{key}.eml"
        tmp = self.directory / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(bytes(message))
        os.replace(tmp, final)


def transport_from_settings() -> Transport:
    s = get_settings()
    if s.smtp_url:
        return SmtpTransport(s.smtp_url)
    return FileTransport(s.ticketing_mail_dir)


def describe_destination() -> str:
    """Where emails go, for start-up logs (never the SMTP password)."""
    s = get_settings()
    if s.smtp_url:
        parts = urlsplit(s.smtp_url)
        return f"SMTP {parts.scheme}://{parts.hostname}:{parts.port or ''}"
    return f".eml files in {Path(s.ticketing_mail_dir).resolve()}"
