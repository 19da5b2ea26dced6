"""The SMTP transport against a real aiosmtpd server: STARTTLS + AUTH from an `smtp://` URL,
implicit TLS from `smtps://`, and a wrong password refused (SPEC §11 `SMTP_URL`)."""

from __future__ import annotations

import smtplib
import ssl
import subprocess
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.smtp_helpers import SmtpServer
from ticketing_app.mail import SmtpTransport

USER, PASSWORD = "mailer", "p@ss word"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl), and a client context trusting it."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(d / "cert.pem", d / "key.pem")
    client = ssl.create_default_context(cafile=str(d / "cert.pem"))
    return server, client


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (USER, PASSWORD)
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def message(to: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Ticketing <no-reply@example.com>", to, "Hello"
    m.set_content("text")
    m.add_alternative("<p>html</p>", subtype="html")
    return m


def transport(url: str, client_ctx: ssl.SSLContext) -> SmtpTransport:
    t = SmtpTransport(url, timeout=5)
    t.tls_context = client_ctx
    return t


def test_starttls_then_auth_from_smtp_url(cert):
    server_ctx, client_ctx = cert
    smtp = SmtpServer(
        tls_context=server_ctx,
        authenticator=authenticator,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],  # PLAIN only: a refusal is one clean 535
    ).start()
    try:
        url = f"smtp://{USER}:p%40ss%20word@127.0.0.1:{smtp.port}"
        with transport(url, client_ctx) as t:
            t.send(message("a@example.com"), key="k1")
            t.send(message("b@example.com"), key="k2")  # same connection
        received = smtp.inbox.wait_for(lambda m: len(m) == 2)
        assert all(r.tls and r.login == USER for r in received)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            bad = transport(f"smtp://{USER}:wrong@127.0.0.1:{smtp.port}", client_ctx)
            bad.send(message("c@example.com"), key="k3")
    finally:
        smtp.stop()


def test_implicit_tls_from_smtps_url(cert):
    server_ctx, client_ctx = cert
    smtp = SmtpServer(
        ssl_context=server_ctx,
        authenticator=authenticator,
        auth_required=True,
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this socket is TLS from the start
        auth_require_tls=False,
    ).start()
    try:
        with transport(f"smtps://{USER}:p%40ss%20word@127.0.0.1:{smtp.port}", client_ctx) as t:
            t.send(message("d@example.com"), key="k4")
        (got,) = smtp.inbox.wait_for(lambda m: len(m) == 1)
        assert got.login == USER and got.to == "d@example.com"
        # the port speaks TLS only: a plain SMTP client gets no greeting
        with pytest.raises((smtplib.SMTPException, OSError)):
            smtplib.SMTP("127.0.0.1", smtp.port, timeout=1)
    finally:
        smtp.stop()
