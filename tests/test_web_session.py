"""`safe_next`: the one check of where signing in or out may send the browser (issue 18).

The pages (`state/auth.py`, `state/common.post_form_script`) and the cookie bridge
(`api/session_bridge.py`) both call it; the bridge's answer over HTTP is in
tests/api/test_users_api.py.
"""

from __future__ import annotations

import pytest

from ticketing_app.web_session import safe_next

KEPT_PATHS = [
    "/",
    "/orders",
    "/tickets/9b1e7a4c-1d2e-4f00-8a00-000000000000",
    "/?q=radiohead%20sat&sort=price_asc",
    "/?q=caf%C3%A9",
    "/?q=café",
    "/?q=100%25",
    "/?q=a%2F%2Fb",
    "/orders#top",
]
REFUSED = [
    "",
    "orders",
    "//evil.example/",
    "/\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r/evil.example/",
    "/%09/evil.example/",
    "/%0A/evil.example/",
    "/%0d/evil.example/",
    "/%2509/evil.example/",  # twice encoded
    "/%5Cevil.example/",
    "/%2F/evil.example/",
    "/%2f%2fevil.example",
    "/\u200b/evil.example/",
    "/\u202e/lmth.live",
    "/\ufeff/x",
    "/\x85/x",
    "/\u00a0/x",
    "/\u2028/x",
    "https://evil.example/x",
    "http://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,hi",
    "\t/orders",
    " /orders",
    "/" + "a" * 2048,
    None,
    42,
]


@pytest.mark.parametrize("target", KEPT_PATHS)
def test_paths_on_this_site_are_kept(target: str) -> None:
    assert safe_next(target) == target
    assert safe_next(target, host="localhost") == target


@pytest.mark.parametrize("target", REFUSED)
def test_anything_else_goes_home(target: object) -> None:
    assert safe_next(target) == "/"
    assert safe_next(target, host="localhost") == "/"
    assert safe_next(target, host="tickets.example") == "/"


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:3000/orders",
        "https://localhost/?q=x",
        "http://LOCALHOST:3000",
        "http://localhost:3000#x",
    ],
)
def test_urls_on_our_host_only_when_the_host_is_given(target: str) -> None:
    """The static frontend may be on another port of the backend's host (docs/api.md)."""
    assert safe_next(target, host="localhost") == target
    assert safe_next(target) == "/"
    assert safe_next(target, host="tickets.example") == "/"


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:3000/\t/evil.example/",
        "http://localhost:3000//evil.example/",
        "http://localhost:3000/%09/evil.example/",
        "http://local\thost:3000/",
        "http://evil.example@localhost/",
        "http://localhost@evil.example/",
        "http://localhost:99999/",
        "http://localhost.evil.example/",
        "ftp://localhost/",
        "http:/\\localhost/",
        "http:localhost/",
    ],
)
def test_urls_on_our_host_with_a_hostile_rest_go_home(target: str) -> None:
    assert safe_next(target, host="localhost") == "/"
