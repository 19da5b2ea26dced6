"""Account routes (SPEC §11) over real HTTP, with the emails they cause received by a real
SMTP server (aiosmtpd) and their links followed through the API.

The API process does not send mail itself (nothing is ever sent inside a request): a notifier
(jobs/notifications.Notifier) runs beside it in this process on the same database, as a
separate worker would."""

from __future__ import annotations

import time

import httpx
import pytest
from api_helpers import PASSWORD, assert_error, unique_email

from tests.smtp_helpers import SmtpServer
from ticketing_app.jobs.notifications import Notifier
from ticketing_app.lease import FileLease
from ticketing_app.mail import SmtpTransport


class Mail:
    def __init__(self, db_url: str, scope: str) -> None:
        self.smtp = SmtpServer().start()
        self.notifier = Notifier(
            database_url=db_url,
            transport=lambda: SmtpTransport(self.smtp.url, timeout=5),
            lease=FileLease("notifications-api-test", 10.0, scope=scope),
        )

    def to(self, address: str, subject_part: str, count: int = 1) -> list:
        """Run the notifier until `count` messages to `address` with `subject_part` arrived."""
        deadline = time.monotonic() + 15
        while True:
            self.notifier.run_once()
            found = [m for m in self.smtp.inbox.to(address) if subject_part in m.subject]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture
def mail(server, tmp_path):
    m = Mail(server.db_url, str(tmp_path))
    yield m
    m.smtp.stop()


def new_client(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30)


def signin(server, email: str, password: str) -> httpx.Response:
    with new_client(server) as http:
        return http.post("/api/users/signin", json={"email": email, "password": password})


def test_change_password_revokes_other_sessions(server, make_user):
    user = make_user()
    other = new_client(server)
    r = other.post("/api/users/signin", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200
    r = user.post(
        "/api/users/password", json={"currentPassword": "wrong password", "newPassword": "x" * 12}
    )
    assert_error(r, 400, "Current password is incorrect", "currentPassword")
    r = user.post("/api/users/password", json={"currentPassword": PASSWORD, "newPassword": "short"})
    assert_error(r, 400, field="newPassword")
    r = user.post(
        "/api/users/password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new password"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user.id, "email": user.email}
    # this browser stays signed in, the other one is signed out
    assert user.get("/api/users/currentuser").json()["currentUser"]["id"] == user.id
    assert other.get("/api/users/currentuser").json() == {"currentUser": None}
    other.close()
    assert signin(server, user.email, PASSWORD).status_code == 400
    assert signin(server, user.email, "a brand new password").status_code == 200


def test_password_routes_need_sign_in_and_refuse_other_sites(server, anon, make_user):
    r = anon.post("/api/users/password", json={"currentPassword": "a", "newPassword": "b" * 9})
    assert_error(r, 401)
    r = anon.post("/api/users/email", json={"password": "a", "email": "x@example.com"})
    assert_error(r, 401)
    user = make_user()
    r = user.post(
        "/api/users/password",
        json={"currentPassword": PASSWORD, "newPassword": "c" * 12},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert_error(r, 403)
    assert signin(server, user.email, PASSWORD).status_code == 200  # unchanged


def test_password_reset_by_emailed_link(server, make_user, anon, mail):
    user = make_user("reset")
    unknown = unique_email("nobody")
    known = anon.post("/api/users/password-reset", json={"email": user.email.upper()})
    missing = anon.post("/api/users/password-reset", json={"email": unknown})
    # no enumeration: the same answer whether or not an account has the address
    assert (known.status_code, known.json()) == (missing.status_code, missing.json()) == (202, {})
    (reset,) = mail.to(user.email, "Reset")
    assert reset.subject == "Reset your Ticketing password"
    link = reset.link("/reset/")
    assert link.startswith("http://localhost:3000/reset/")
    token = reset.token("/reset/")
    assert not mail.smtp.inbox.to(unknown)
    r = anon.post("/api/users/password-reset/confirm", json={"token": "nope", "password": "x" * 9})
    assert_error(r, 400, field="token")
    r = anon.post(
        "/api/users/password-reset/confirm", json={"token": token, "password": "reset password 1"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user.id
    # every session ended (also the one that was signed in), old password refused
    assert user.get("/api/users/currentuser").json() == {"currentUser": None}
    assert signin(server, user.email, PASSWORD).status_code == 400
    assert signin(server, user.email, "reset password 1").status_code == 200
    # single use
    r = anon.post(
        "/api/users/password-reset/confirm", json={"token": token, "password": "reset password 2"}
    )
    assert_error(r, 400, field="token")
    assert signin(server, user.email, "reset password 2").status_code == 400


def test_change_email_needs_verification_and_tells_old_address(server, make_user, anon, mail):
    user = make_user("mover")
    other = make_user("taken")
    r = user.post("/api/users/email", json={"password": "wrong", "email": unique_email()})
    assert_error(r, 400, "Password is incorrect", "password")
    r = user.post("/api/users/email", json={"password": PASSWORD, "email": other.email})
    assert_error(r, 400, "Email in use", "email")
    r = user.post("/api/users/email", json={"password": PASSWORD, "email": "not an email"})
    assert_error(r, 400, field="email")
    new_address = unique_email("moved")
    r = user.post("/api/users/email", json={"password": PASSWORD, "email": new_address})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user.id, "email": user.email, "pendingEmail": new_address}
    # not changed until the link is followed
    assert user.get("/api/users/currentuser").json()["currentUser"]["email"] == user.email
    (verify,) = mail.to(new_address, "Confirm your new email")
    token = verify.token("/account/verify/")
    r = anon.post("/api/users/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user.id, "email": new_address}
    assert user.get("/api/users/currentuser").json()["currentUser"]["email"] == new_address
    assert signin(server, new_address, PASSWORD).status_code == 200
    assert signin(server, user.email, PASSWORD).status_code == 400
    (notice,) = mail.to(user.email, "address was changed")
    assert new_address in notice.text and new_address in notice.html
    assert_error(anon.post("/api/users/verify-email", json={"token": token}), 400, field="token")


def test_welcome_link_verifies_the_address(server, make_user, anon, mail):
    user = make_user("welcome")
    (welcome,) = mail.to(user.email, "Welcome")
    r = anon.post("/api/users/verify-email", json={"token": welcome.token("/account/verify/")})
    assert r.status_code == 200 and r.json() == {"id": user.id, "email": user.email}
    r = anon.post("/api/users/verify-email", json={"token": welcome.token("/account/verify/")})
    assert_error(r, 400, "This link is invalid, already used or expired", "token")
    assert_error(anon.post("/api/users/verify-email", json={"token": "x"}), 400, field="token")
    assert_error(anon.post("/api/users/verify-email", json={}), 400, field="token")
