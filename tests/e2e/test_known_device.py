"""The sign-in lockout stops the attacker, not the owner (issue 18): after ten wrong guesses
from elsewhere, the owner's own browser, which signed in before, still signs in on the page;
another browser is told to wait."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

from e2e.app_server import AppServer
from e2e.helpers import PASSWORD, sign_in, sign_up, unique_email

TOO_MANY = "Too many failed sign-in attempts. Try again in a few minutes."


def test_owner_signs_in_on_the_page_after_an_attacker_locked_the_email(
    app_server: AppServer, new_context: Callable[[], BrowserContext]
) -> None:
    base = app_server.url
    email = unique_email("owner")
    owner_context = new_context()
    owner = owner_context.new_page()
    sign_up(owner, base, email)  # the page's sign-up makes this browser a known device
    device = [c for c in owner_context.cookies() if c["name"] == "device"]
    assert device and device[0]["httpOnly"] and device[0]["sameSite"] == "Lax"
    owner.get_by_role("button", name="Sign out", exact=True).click()
    expect(owner.get_by_test_id("nav-signed-out")).to_be_visible()

    with httpx.Client(base_url=base, timeout=30) as attacker:
        for _ in range(11):
            r = attacker.post("/api/users/signin", json={"email": email, "password": "guess-1"})
        assert r.status_code == 429

    stranger = new_context().new_page()  # the right password, but never signed in here
    sign_in(stranger, base, email, PASSWORD)
    expect(stranger.get_by_text(TOO_MANY)).to_be_visible()
    expect(stranger.get_by_test_id("nav-signed-out")).to_be_visible()

    sign_in(owner, base, email, PASSWORD)
    expect(owner.get_by_test_id("nav-user")).to_have_text(email)
