"""Accounts over HTTP: signup/signin/signout/currentuser and the `session` cookie's flags."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from api_helpers import PASSWORD, assert_error, cookie_header_parts, unique_email

from ticketing_app.db import write_session
from ticketing_app.models import utcnow
from ticketing_app.services import auth


def test_signup_returns_user_and_sets_httponly_lax_cookie(anon) -> None:
    email = unique_email()
    r = anon.post("/api/users/signup", json={"email": email.upper(), "password": PASSWORD})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "email"} and body["email"] == email  # stored lower-case
    cookie = cookie_header_parts(r)
    assert cookie["session"] and len(cookie["session"]) >= 32
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == 7 * 86400
    assert "secure" not in cookie  # TICKETING_SECURE_COOKIES defaults to false locally
    me = anon.get("/api/users/currentuser").json()
    assert me == {"currentUser": {"id": body["id"], "email": email}}


def test_currentuser_is_null_without_cookie(anon) -> None:
    r = anon.get("/api/users/currentuser")
    assert r.status_code == 200 and r.json() == {"currentUser": None}


def test_signup_email_in_use_case_insensitively(anon, seller) -> None:
    r = anon.post("/api/users/signup", json={"email": seller.email.upper(), "password": PASSWORD})
    assert_error(r, 400, "Email in use", "email")
    assert "session" not in anon.http.cookies


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email", "Email must be valid"),
        ({"password": PASSWORD}, "email", "Email is required"),
        ({"email": 42, "password": PASSWORD}, "email", "Email is required"),
        ({"email": "x@example.com", "password": "short"}, "password", None),
        ({"email": "x@example.com", "password": "p" * 129}, "password", None),
        ({"email": "x@example.com"}, "password", "Password is required"),
        ({"email": "x@example.com", "password": ["a"] * 9}, "password", "Password is required"),
        ({"email": "a" * 300 + "@example.com", "password": PASSWORD}, "email", None),
    ],
)
def test_signup_rejects_bad_input_with_field(anon, body, field, message) -> None:
    assert_error(anon.post("/api/users/signup", json=body), 400, message, field)


def test_signin_sets_cookie_and_signs_in(make_user, server) -> None:
    user = make_user()
    with httpx.Client(base_url=server.base_url) as other:
        r = other.post("/api/users/signin", json={"email": user.email, "password": PASSWORD})
        assert r.status_code == 200 and r.json() == {"id": user.id, "email": user.email}
        cookie = cookie_header_parts(r)
        assert "httponly" in cookie and cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/"
        assert other.get("/api/users/currentuser").json()["currentUser"]["id"] == user.id


def test_signin_same_error_for_unknown_email_and_wrong_password(anon, seller) -> None:
    wrong = anon.post("/api/users/signin", json={"email": seller.email, "password": "nope-nope"})
    unknown = anon.post(
        "/api/users/signin", json={"email": unique_email("ghost"), "password": PASSWORD}
    )
    assert_error(wrong, 400, "Invalid credentials", None)
    assert_error(unknown, 400, "Invalid credentials", None)
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_signin_rate_limited_after_repeated_failures(anon, make_user) -> None:
    user = make_user()
    for _ in range(10):  # TICKETING_SIGNIN_MAX_FAILURES default
        r = anon.post("/api/users/signin", json={"email": user.email, "password": "wrong-pass"})
        assert_error(r, 400, "Invalid credentials")
    # Even the right password is refused now, with 429 and a Retry-After hint.
    r = anon.post("/api/users/signin", json={"email": user.email, "password": PASSWORD})
    assert_error(r, 429, field=None)
    assert "Too many" in r.json()["errors"][0]["message"]
    assert int(r.headers["retry-after"]) > 0
    # Another account is not affected.
    other = make_user()
    ok = anon.post("/api/users/signin", json={"email": other.email, "password": PASSWORD})
    assert ok.status_code == 200


def device_cookie_parts(response: httpx.Response) -> dict[str, str]:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith("device=")]
    assert len(headers) == 1, response.headers
    parts: dict[str, str] = {}
    for i, piece in enumerate(headers[0].split(";")):
        name, _, value = piece.strip().partition("=")
        parts["device" if i == 0 else name.lower()] = value
    return parts


def test_a_browser_that_signed_in_before_is_not_locked_out_by_guesses(make_user, server) -> None:
    """Eleven wrong guesses used to lock the owner out with the right password (429 for 15
    minutes); the owner's own browser (its known-device cookie) now still gets in."""
    owner = make_user("owner")
    device = device_cookie_parts(
        owner.post("/api/users/signin", json={"email": owner.email, "password": PASSWORD})
    )
    assert device["device"] and "httponly" in device and device["path"] == "/"
    assert device["samesite"].lower() == "lax" and int(device["max-age"]) == 365 * 86400
    with httpx.Client(base_url=server.base_url) as attacker:
        for _ in range(11):
            r = attacker.post("/api/users/signin", json={"email": owner.email, "password": "x1"})
        assert_error(r, 429)
        assert "device" not in attacker.cookies
    owner.http.cookies.delete("session")  # signed out on this browser, device cookie kept
    r = owner.post("/api/users/signin", json={"email": owner.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert owner.get("/api/users/currentuser").json()["currentUser"]["id"] == owner.id
    with httpx.Client(base_url=server.base_url) as new_browser:  # no cookie: still limited
        r = new_browser.post("/api/users/signin", json={"email": owner.email, "password": PASSWORD})
        assert_error(r, 429)
    stolen = {"device": owner.http.cookies["device"]}
    with httpx.Client(base_url=server.base_url, cookies=stolen) as thief:  # its own limit
        for _ in range(10):
            r = thief.post("/api/users/signin", json={"email": owner.email, "password": "x1"})
            assert_error(r, 400, "Invalid credentials")
        r = thief.post("/api/users/signin", json={"email": owner.email, "password": PASSWORD})
        assert_error(r, 429)


def test_signout_expires_cookie_and_revokes_session(make_user, server) -> None:
    user = make_user()
    token = user.http.cookies["session"]
    r = user.post("/api/users/signout", json={})
    assert r.status_code == 200 and r.json() == {}
    cookie = cookie_header_parts(r)
    assert cookie["session"] in ("", '""')
    assert cookie["max-age"] == "0" and "expires" in cookie
    assert cookie["path"] == "/" and "httponly" in cookie and cookie["samesite"].lower() == "lax"
    assert user.get("/api/users/currentuser").json() == {"currentUser": None}
    # The old token is dead on the server too, not just forgotten by this browser.
    with httpx.Client(base_url=server.base_url, cookies={"session": token}) as replay:
        assert replay.get("/api/users/currentuser").json() == {"currentUser": None}
        r = replay.post("/api/tickets", json={"title": "Replay", "price": 5})
        assert_error(r, 401)


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        {"origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    ],
)
def test_signout_refuses_cross_site_posts(make_user, headers) -> None:
    """Sign-out CSRF: another site's auto-posted form must not sign the visitor out."""
    user = make_user()
    form = {"content-type": "application/x-www-form-urlencoded", **headers}
    r = user.post("/api/users/signout", content=b"x=1", headers=form)
    assert_error(r, 403, "Cross-site request refused")
    assert "set-cookie" not in r.headers
    assert user.get("/api/users/currentuser").json()["currentUser"]["id"] == user.id
    same_site = {"sec-fetch-site": "same-origin", "origin": str(user.http.base_url).rstrip("/")}
    r = user.post("/api/users/signout", json={}, headers=same_site)
    assert r.status_code == 200 and cookie_header_parts(r)["max-age"] == "0"


def test_signout_without_session_is_fine(anon) -> None:
    r = anon.post("/api/users/signout")
    assert r.status_code == 200 and r.json() == {}


def test_stale_cookie_is_cleared_by_currentuser(server) -> None:
    with httpx.Client(base_url=server.base_url, cookies={"session": "forged-token"}) as c:
        r = c.get("/api/users/currentuser")
        assert r.json() == {"currentUser": None}
        assert cookie_header_parts(r)["max-age"] == "0"


def _handoff_code(server, token: str) -> str:
    """What the sign-in page's handler does after checking the password (state/auth.py)."""
    with write_session(server.db_url) as db:
        return auth.begin_handoff(db, token=token, now=utcnow())


def test_page_cookie_bridge_exchanges_a_one_time_code_for_the_cookie(make_user, server) -> None:
    """`/api/auth/session` is how a Reflex page signs a browser in (docs/api.md): the page
    only ever sees a one-time code; the session token travels only in the HttpOnly cookie."""
    user = make_user()
    token = user.http.cookies["session"]
    code = _handoff_code(server, token)
    assert user.http.get("/api/users/currentuser").json() == {"currentUser": None}  # swapped
    with httpx.Client(base_url=server.base_url) as browser:
        r = browser.post("/api/auth/session", data={"code": code, "next": "/orders"})
        assert r.status_code == 303 and r.headers["location"] == "/orders"
        cookie = cookie_header_parts(r)
        assert cookie["session"] not in (token, code) and "httponly" in cookie
        assert cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
        assert "httponly" in device_cookie_parts(r)  # the page's sign-in makes a known device
        assert browser.get("/api/users/currentuser").json()["currentUser"]["id"] == user.id
        r = browser.post("/api/auth/clear", data={"next": "/"})
        assert r.status_code == 303 and cookie_header_parts(r)["max-age"] == "0"
    with httpx.Client(base_url=server.base_url) as replay:  # single use
        r = replay.post("/api/auth/session", data={"code": code, "next": "/"})
        assert r.status_code == 303 and "set-cookie" not in r.headers
    for cookie_value in (code, "handoff:" + code, "h" + code):  # no cookie reaches it
        with httpx.Client(base_url=server.base_url, cookies={"session": cookie_value}) as c:
            assert c.get("/api/users/currentuser").json() == {"currentUser": None}
    with httpx.Client(base_url=server.base_url) as browser:
        r = browser.post("/api/auth/session", data={"code": "forged", "next": "/"})
        assert r.status_code == 303 and "set-cookie" not in r.headers


def test_an_unused_code_signs_nobody_in_and_still_expires(make_user, server) -> None:
    """Until the browser exchanges it, no cookie value finds the handed-off session (which
    would also have slid its 60 s expiry to a full session's)."""
    user = make_user()
    code = _handoff_code(server, user.http.cookies["session"])
    for cookie_value in (code, "handoff:" + code):
        with httpx.Client(base_url=server.base_url, cookies={"session": cookie_value}) as c:
            assert c.get("/api/users/currentuser").json() == {"currentUser": None}
            assert c.post("/api/tickets", json={"title": "Gig", "price": 5}).status_code == 401
    with write_session(server.db_url) as db:
        assert auth.adopt_handoff(db, code=code, now=utcnow() + timedelta(seconds=61)) is None


def test_json_sign_in_and_up_refuse_cross_site_posts(make_user, server) -> None:
    """A `text/plain` form auto-posted by another site carries a JSON body: without the
    check it would sign the visitor in to the attacker's account (login CSRF)."""
    user = make_user()
    body = json.dumps({"email": user.email, "password": PASSWORD})
    plain = {"content-type": "text/plain"}
    for headers in (
        {**plain, "sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        {**plain, "origin": "https://evil.example"},
    ):
        with httpx.Client(base_url=server.base_url) as victim:
            for path in ("/api/users/signin", "/api/users/signup"):
                r = victim.post(path, content=body, headers=headers)
                assert_error(r, 403, "Cross-site request refused")
                assert "set-cookie" not in r.headers
    same_site = {"sec-fetch-site": "same-site", "origin": server.base_url}
    with httpx.Client(base_url=server.base_url) as browser:
        r = browser.post("/api/users/signin", content=body, headers=same_site)
        assert r.status_code == 200 and "session" in cookie_header_parts(r)
    proxied = {"origin": "https://tickets.example", "x-forwarded-host": "tickets.example"}
    with httpx.Client(base_url=server.base_url) as browser:  # behind a proxy, over plain HTTP
        r = browser.post("/api/users/signin", content=body, headers=proxied)
        assert r.status_code == 200


def test_page_cookie_bridge_code_expires(make_user, server) -> None:
    user = make_user()
    with write_session(server.db_url) as db:
        code = auth.begin_handoff(
            db, token=user.http.cookies["session"], now=utcnow() - timedelta(seconds=61)
        )
    with httpx.Client(base_url=server.base_url) as browser:
        r = browser.post("/api/auth/session", data={"code": code, "next": "/"})
        assert r.status_code == 303 and "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        {"origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    ],
)
def test_page_cookie_bridge_refuses_cross_site_posts(make_user, server, headers) -> None:
    """Login CSRF: another site's page auto-posting the attacker's own code would sign the
    visitor in to the attacker's account. Signing out from another site is refused too."""
    code = _handoff_code(server, make_user().http.cookies["session"])
    with httpx.Client(base_url=server.base_url) as victim:
        r = victim.post("/api/auth/session", data={"code": code, "next": "/"}, headers=headers)
        assert_error(r, 403, "Cross-site request refused")
        assert "set-cookie" not in r.headers
        r = victim.post("/api/auth/clear", data={"next": "/"}, headers=headers)
        assert_error(r, 403, "Cross-site request refused")
        # The same code from our own pages still works: the refusal used nothing up.
        same_site = {"sec-fetch-site": "same-site", "origin": server.base_url}
        r = victim.post("/api/auth/session", data={"code": code, "next": "/"}, headers=same_site)
        assert r.status_code == 303 and "session" in cookie_header_parts(r)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/x",
        "javascript:x",
        "/\tevil.example/",
        "/\t/evil.example/",  # URL parsers drop the tab: `//evil.example/`
        "/%09/evil.example/",
        "http://127.0.0.1:3000/\n/evil.example/",
        "/\\evil.example/",
    ],
)
def test_page_cookie_bridge_never_redirects_off_site(anon, target) -> None:
    for route in ("/api/auth/session", "/api/auth/clear"):
        r = anon.post(route, data={"code": "x", "next": target})
        assert r.status_code == 303 and r.headers["location"] == "/", (route, r.headers)


def test_page_cookie_bridge_redirects_to_our_pages(anon, server) -> None:
    """The page posts `window.location.origin + path`: any port of the backend's host."""
    for target in ("/orders?x=1", "http://127.0.0.1:3000/orders", f"{server.base_url}/?q=a%20b"):
        r = anon.post("/api/auth/clear", data={"next": target})
        assert r.status_code == 303 and r.headers["location"] == target
