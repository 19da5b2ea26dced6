"""Account pages in Chromium (SPEC §11), with the app's own notifications job sending to a
real SMTP server (aiosmtpd) and the links taken from the captured emails."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e2e.helpers import PASSWORD, sign_in, sign_up, unique_email, wait_ready
from tests.smtp_helpers import SmtpServer


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(app_factory, smtp):
    return app_factory({"SMTP_URL": smtp.url})


def signed_out_at_next_navigation(page, base: str) -> None:
    page.goto(base + "/orders")
    expect(page).to_have_url(re.compile(r"/signin"))
    expect(page.get_by_test_id("nav-signed-out")).to_be_visible()


def test_change_password_signs_out_the_other_browser(app, new_context):
    email = unique_email("pw")
    mine, other = new_context().new_page(), new_context().new_page()
    sign_up(mine, app.url, email)
    sign_in(other, app.url, email)
    expect(other.get_by_test_id("nav-user")).to_have_text(email)
    mine.get_by_test_id("nav-user").click()
    expect(mine).to_have_url(re.compile(r"/account$"))
    wait_ready(mine)
    mine.get_by_label("Current password").fill("not my password")
    mine.get_by_label("New password").fill("brand-new-password")
    mine.get_by_role("button", name="Change password").click()
    expect(mine.get_by_text("Current password is incorrect")).to_be_visible()
    mine.get_by_label("Current password").fill(PASSWORD)
    mine.get_by_label("New password").fill("brand-new-password")
    mine.get_by_role("button", name="Change password").click()
    expect(mine.get_by_text("Password changed.")).to_be_visible()
    signed_out_at_next_navigation(other, app.url)
    mine.goto(app.url + "/orders")  # this browser stays signed in
    expect(mine.get_by_test_id("nav-user")).to_have_text(email)


def test_reset_by_emailed_link(app, smtp, new_context):
    email = unique_email("reset")
    first = new_context().new_page()
    sign_up(first, app.url, email)
    page = new_context().new_page()
    page.goto(app.url + "/signin")
    wait_ready(page)
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(re.compile(r"/forgot$"))
    # The address changes before the new page replaces the old one (whose form also has an
    # "Email" field): wait for this page's own heading before typing.
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    wait_ready(page)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("If an account uses this address")).to_be_visible()
    smtp.inbox.wait_for(lambda _: any("Reset" in m.subject for m in smtp.inbox.to(email)))
    (mail,) = [m for m in smtp.inbox.to(email) if "Reset" in m.subject]
    link = mail.link("/reset/")
    assert link.startswith(app.url + "/reset/")
    page.goto(link)
    wait_ready(page)
    page.get_by_label("New password").fill("reset-password-1")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    signed_out_at_next_navigation(first, app.url)  # every session ended
    sign_in(page, app.url, email, PASSWORD)
    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    sign_in(page, app.url, email, "reset-password-1")
    expect(page.get_by_test_id("nav-user")).to_have_text(email)
    # the link works once
    other = new_context().new_page()
    other.goto(link)
    wait_ready(other)
    other.get_by_label("New password").fill("reset-password-2")
    other.get_by_role("button", name="Set password").click()
    expect(other.get_by_text("This link is invalid, already used or expired")).to_be_visible()


def test_change_email_needs_the_link_and_tells_the_old_address(app, smtp, new_context):
    old, new = unique_email("old"), unique_email("new")
    page = new_context().new_page()
    sign_up(page, app.url, old)
    page.goto(app.url + "/account")
    wait_ready(page)
    page.get_by_label("New email").fill(new)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Send confirmation link").click()
    expect(page.get_by_text(f"We sent a link to {new}")).to_be_visible()
    (verify,) = smtp.inbox.wait_to(new)
    page.goto(app.url + "/orders")
    expect(page.get_by_test_id("nav-user")).to_have_text(old)  # not until confirmed
    page.goto(verify.link("/account/verify/"))
    expect(page.get_by_text(f"{new} is confirmed")).to_be_visible()
    page.goto(app.url + "/orders")
    expect(page.get_by_test_id("nav-user")).to_have_text(new)
    smtp.inbox.wait_for(lambda _: any("changed" in m.subject for m in smtp.inbox.to(old)))


def test_watch_match_shows_in_the_bell_live_and_the_list(app, smtp, new_context):
    """A matching listing: one email, and the watcher's open tabs show the bell go up without
    a reload; a watcher whose maximum is below the price gets nothing, and their open bell
    stays empty (the push is per user). "Mark all read" empties the watcher's other tab too."""
    from datetime import UTC, datetime, timedelta

    watcher_context = new_context()
    watcher, seller = watcher_context.new_page(), new_context().new_page()
    stingy = new_context().new_page()
    watcher_email, stingy_email = unique_email("watcher"), unique_email("stingy")
    sign_up(watcher, app.url, watcher_email)
    sign_up(stingy, app.url, stingy_email)
    sign_up(seller, app.url, unique_email("seller"))
    starts = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    r = seller.request.post(
        app.url + "/api/events",
        data={
            "name": "Bell Show",
            "venue": "Olympia",
            "city": "Paris",
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
        },
    )
    assert r.status == 201, r.text()
    event_id = r.json()["id"]
    # "Notify me" on the event page, up to a price; the page then says it is watching.
    for page, up_to in ((watcher, "60"), (stingy, "50")):
        page.goto(f"{app.url}/events/{event_id}")
        wait_ready(page)
        expect(page.get_by_role("heading", name="Bell Show")).to_be_visible()
        page.get_by_label("Up to").fill(up_to)
        page.get_by_role("button", name="Notify me").click()
        expect(page.get_by_test_id("watching")).to_contain_text("Watching (up to")
        expect(page.get_by_test_id("watching")).to_contain_text(up_to)
    r = watcher.request.get(f"{app.url}/api/watches")
    assert [(w["eventId"], w["maxPrice"]) for w in r.json()] == [(event_id, 60)]
    watcher.goto(app.url + "/account")  # and /account lists it
    expect(watcher.get_by_test_id("watch-row")).to_contain_text("Bell Show")
    watcher.goto(f"{app.url}/events/{event_id}")  # the open page that will not reload
    wait_ready(watcher)
    second_tab = watcher_context.new_page()
    second_tab.goto(app.url + "/orders")
    wait_ready(second_tab)
    for page in (watcher, second_tab, stingy):
        expect(page.get_by_test_id("nav-unread")).to_have_count(0)

    r = seller.request.post(
        app.url + "/api/tickets", data={"title": "Balcony", "price": 55, "eventId": event_id}
    )
    assert r.status == 201, r.text()
    smtp.inbox.wait_to(watcher_email, count=2)  # the welcome, then the match
    # Live: both of the watcher's tabs, no reload (a navigation would also show it).
    expect(watcher.get_by_test_id("nav-unread")).to_have_text("1", timeout=5000)
    expect(second_tab.get_by_test_id("nav-unread")).to_have_text("1", timeout=5000)
    expect(stingy.get_by_test_id("nav-unread")).to_have_count(0)  # over their maximum
    assert not [m for m in smtp.inbox.to(stingy_email) if "New ticket" in m.subject]
    stingy.reload()
    wait_ready(stingy)
    expect(stingy.get_by_test_id("nav-unread")).to_have_count(0)

    watcher.get_by_test_id("nav-bell").click()
    expect(watcher).to_have_url(re.compile(r"/notifications$"))
    item = watcher.get_by_test_id("notification")
    expect(item).to_contain_text("New ticket for Bell Show: Balcony at $55.00")
    watcher.get_by_role("button", name="Mark all read").click()
    expect(watcher.get_by_test_id("nav-unread")).to_have_count(0)
    expect(second_tab.get_by_test_id("nav-unread")).to_have_count(0, timeout=5000)
