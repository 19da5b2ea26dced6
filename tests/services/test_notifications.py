"""Emails from domain events (SPEC §11), received by a real SMTP server (aiosmtpd).

Each trigger is made through the real services; the notifier (jobs/notifications.Notifier)
plans and sends exactly as in production, here one pass at a time (`run_once`) so a test
can look between the steps. SQLite and PostgreSQL alike."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tests.delivery.sample_files import pdf
from tests.smtp_helpers import SmtpServer
from tests.support.money import fees
from ticketing_app.db import get_engine
from ticketing_app.jobs.notifications import Notifier
from ticketing_app.lease import FileLease
from ticketing_app.mail import SmtpTransport
from ticketing_app.models import (
    Charge,
    ChargeStatus,
    ConsumerPosition,
    Delivery,
    DeliveryStatus,
    Order,
    OrderStatus,
    User,
    utcnow,
)
from ticketing_app.services import (
    accounts,
    delivery,
    notifications,
    orders,
    settlement,
    transitions,
    watches,
)
from ticketing_app.settings import reset_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def notifier(db_url, smtp, tmp_path):
    return Notifier(
        database_url=db_url,
        transport=lambda: SmtpTransport(smtp.url, timeout=5),
        lease=FileLease("notifications-test", 10.0, scope=str(tmp_path)),
    )


def deliveries(db_url, **where):
    with get_engine(db_url).connect() as conn:
        q = sa.select(Delivery.__table__)
        for k, v in where.items():
            q = q.where(Delivery.__table__.c[k] == v)
        return list(conn.execute(q))


def drain(notifier, smtp, expected: int):
    """Run passes until `expected` messages in total have arrived (sends are synchronous)."""
    notifier.run_once()
    return smtp.inbox.wait_for(lambda m: len(m) >= expected, timeout=10)


def test_welcome_has_a_working_verification_link(make_user, notifier, smtp, new_session, now):
    user = make_user("new@example.com")
    drain(notifier, smtp, 1)
    (mail,) = smtp.inbox.to("new@example.com")
    assert mail.subject == "Welcome to Ticketing: please confirm your email address"
    assert "new@example.com" in mail.text and "new@example.com" in mail.html
    link = mail.link("/account/verify/")
    assert link.startswith("http://localhost:3000/account/verify/")
    with new_session() as db:
        verified = accounts.verify_email(db, token=mail.token("/account/verify/"), now=now)
    assert verified.id == user.id and verified.email_verified_at == now
    with new_session() as db, pytest.raises(accounts.ValidationError) as err:
        accounts.verify_email(db, token=mail.token("/account/verify/"), now=now)
    assert err.value.field == "token"
    # UserUpdated was written; it sends nothing more (no second welcome, no notice)
    notifier.run_once()
    assert len(smtp.inbox.to("new@example.com")) == 1
    assert not deliveries(notifier.database_url, status=DeliveryStatus.PENDING)


def test_sale_emails_buyer_receipt_and_seller_earnings(
    seller, buyer, make_ticket, reserve, notifier, smtp, db_url, now
):
    ticket = make_ticket(title="Rock & Roll <Live>", price="45.50", owner=seller)
    held = reserve(buyer, ticket.id)
    with get_engine(db_url).begin() as conn:
        transitions.complete(conn, order_id=held.order.id, payment_intent_id="pi_1", now=now)
    inbox = drain(notifier, smtp, 4)  # two welcomes, the receipt, the sale
    assert len(inbox) == 4
    (receipt,) = [m for m in smtp.inbox.to("buyer@example.com") if "receipt" in m.subject]
    assert receipt.subject == "Your receipt: Rock & Roll <Live>"
    assert "$45.50" in receipt.text and held.order.id in receipt.text
    assert receipt.link("/orders/") == f"http://localhost:3000/orders/{held.order.id}"
    # The e-ticket PDF rides along; read back, it names the ticket and the order.
    ((name, kind, pdf),) = receipt.attachments()
    assert (name, kind) == (f"e-ticket-{held.order.id}.pdf", "application/pdf")
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Rock & Roll <Live>" in pdf_text and held.order.id in pdf_text
    # HTML is autoescaped: the title is text, never markup
    assert "Rock &amp; Roll &lt;Live&gt;" in receipt.html and "<Live>" not in receipt.html
    (sold,) = [m for m in smtp.inbox.to("seller@example.com") if m.subject.startswith("Sold")]
    assert sold.subject == "Sold: Rock & Roll <Live>"
    assert "You earn:    $45.50" in sold.text
    assert sold.link("/listings") == "http://localhost:3000/listings"
    # the buyer got nothing meant for the seller and vice versa
    assert {m.subject.split(":")[0] for m in smtp.inbox.to("buyer@example.com")} == {
        "Welcome to Ticketing",
        "Your receipt",
    }


def test_non_ascii_titles_and_sender_name_arrive_intact(
    seller, buyer, make_ticket, reserve, notifier, smtp, db_url, now, monkeypatch
):
    """Subjects and the sender's display name are RFC 2047-encoded when not ASCII (the
    message is built with email.mime, decision 94), and the reader sees them as typed."""
    monkeypatch.setenv("TICKETING_MAIL_FROM", "Billets Café <no-reply@example.com>")
    reset_settings()
    try:
        ticket = make_ticket(title="Björk — Fossora, rang 1 «A»", price="30", owner=seller)
        held = reserve(buyer, ticket.id)
        with get_engine(db_url).begin() as conn:
            transitions.complete(conn, order_id=held.order.id, payment_intent_id="pi_u", now=now)
        drain(notifier, smtp, 4)
    finally:
        reset_settings()
    (receipt,) = [m for m in smtp.inbox.to("buyer@example.com") if "receipt" in m.subject]
    assert receipt.subject == "Your receipt: Björk — Fossora, rang 1 «A»"
    assert receipt.raw_headers.isascii(), "no raw 8-bit header: the server did not offer SMTPUTF8"
    assert receipt.message["From"].addresses[0].display_name == "Billets Café"
    assert receipt.message["From"].addresses[0].addr_spec == "no-reply@example.com"
    assert "Björk — Fossora, rang 1 «A»" in receipt.text
    assert "Björk — Fossora, rang 1 «A»" in receipt.html
    ((name, kind, _pdf),) = receipt.attachments()
    assert kind == "application/pdf" and name.endswith(".pdf")


def test_a_line_longer_than_smtp_allows_is_quoted_printable():
    """SMTP caps a line at 998 octets: a longer one goes quoted-printable, read back whole."""
    import email
    from email.policy import default

    long_line = "<p>" + "é" * 700 + "</p>"  # 1,407 octets in UTF-8
    part = notifications._text_part(long_line + "\nshort\n", "html")
    raw = part.as_bytes()
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(len(line) for line in raw.splitlines()) <= 998
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed.get_content() == long_line + "\nshort\n"
    short = notifications._text_part("plain ASCII\n", "plain")
    assert short["Content-Transfer-Encoding"] == "7bit"


def test_with_fees_the_receipt_shows_the_total_and_the_seller_earns_less_the_fee(
    seller, buyer, make_ticket, reserve, notifier, smtp, db_url, now
):
    ticket = make_ticket(title="Opera", price="19.99", owner=seller)
    with fees("7.5", "5"):
        held = reserve(buyer, ticket.id)
    with get_engine(db_url).begin() as conn:
        transitions.complete(conn, order_id=held.order.id, payment_intent_id="pi_1", now=now)
    drain(notifier, smtp, 4)
    (receipt,) = [m for m in smtp.inbox.to("buyer@example.com") if "receipt" in m.subject]
    assert "Price:    $19.99" in receipt.text
    assert "Fee:      $1.50" in receipt.text and "Total:    $21.49" in receipt.text
    assert "Total charged</th><td>$21.49" in receipt.html
    (sold,) = [m for m in smtp.inbox.to("seller@example.com") if m.subject.startswith("Sold")]
    assert "You earn:    $18.99" in sold.text  # 19.99 − 5 % (1.00)


def test_expiry_decline_refund_and_withdrawal_emails(
    seller, buyer, make_ticket, reserve, notifier, smtp, db_url, new_session, now
):
    first, second, third = (make_ticket(title=t, price=10, owner=seller) for t in "ABC")
    expiring = reserve(buyer, first.id)
    with new_session() as db:
        assert orders.expire_order(db, order_id=expiring.order.id, now=now + timedelta(hours=1))
    declined = reserve(buyer, second.id)
    with get_engine(db_url).begin() as conn:
        transitions.end_orders(
            conn, [declined.order.id], OrderStatus.CANCELLED, now, reason="payment_failed"
        )
        transitions.withdraw_listings(conn, [third.id], "The event has started", now)
    # A refund of a (made-up) settled charge on the expired order, as settlement records it.
    with new_session() as db, db.begin():
        order = db.get(Order, expiring.order.id)
        charge = Charge(
            order_id=order.id,
            status=ChargeStatus.REFUNDED,
            amount_cents=1000,
            stripe_id="pi_x",
            created_at=now,
            updated_at=now,
        )
        db.add(charge)
        db.flush()
        msg = "Paid after the reservation had ended: refunded in full."
        settlement.record_charge_event(db, "ChargeRefunded", charge, order, now, message=msg)
    drain(notifier, smtp, 6)
    by_subject = {m.subject: m for m in smtp.inbox.to("buyer@example.com")}
    expired = by_subject["Your reservation of A expired"]
    assert expired.link("/tickets/") == f"http://localhost:3000/tickets/{first.id}"
    cancelled = by_subject["Payment declined: your order for B was cancelled"]
    assert "declined three times" in cancelled.text and "declined three times" in cancelled.html
    refund = by_subject["Refund of $10.00 for A"]
    assert msg in refund.text and msg in refund.html
    (withdrawn,) = [m for m in smtp.inbox.to("seller@example.com") if "withdrawn" in m.subject]
    assert withdrawn.subject == "Your listing C was withdrawn"
    assert "The event has started" in withdrawn.text
    # a buyer's own cancel (no reason) and a seller's own cancel send nothing
    assert len(smtp.inbox.messages) == 6


def test_password_reset_and_no_enumeration(make_user, notifier, smtp, new_session, db_url, now):
    make_user("known@example.com")
    for address in ("KNOWN@example.com", "nobody@example.com"):
        with new_session() as db:
            accounts.request_password_reset(db, email=address, now=now)
    drain(notifier, smtp, 2)  # welcome + one reset
    notifier.run_once()
    assert not smtp.inbox.to("nobody@example.com")
    (reset,) = [m for m in smtp.inbox.to("known@example.com") if "Reset" in m.subject]
    token = reset.token("/reset/")
    with new_session() as db:
        accounts.confirm_password_reset(db, token=token, password="a new password", now=now)
    with new_session() as db, pytest.raises(accounts.ValidationError) as err:
        accounts.confirm_password_reset(db, token=token, password="another one!", now=now)
    assert err.value.field == "token"
    (dropped,) = deliveries(db_url, recipient="nobody@example.com")
    assert dropped.status == DeliveryStatus.FAILED
    # the raw token does not stay in the database once sent
    (sent,) = deliveries(db_url, recipient="known@example.com", template="password_reset")
    assert token not in sent.context and sent.status == DeliveryStatus.SENT


def test_reset_link_expires_after_an_hour(make_user, notifier, smtp, new_session, now):
    make_user("late@example.com")
    with new_session() as db:
        accounts.request_password_reset(db, email="late@example.com", now=now)
    drain(notifier, smtp, 2)
    (reset,) = [m for m in smtp.inbox.to("late@example.com") if "Reset" in m.subject]
    later = utcnow() + timedelta(minutes=61)
    with new_session() as db, pytest.raises(accounts.ValidationError):
        accounts.confirm_password_reset(
            db, token=reset.token("/reset/"), password="a new password", now=later
        )


def test_email_change_verifies_new_address_and_tells_old(
    make_user, notifier, smtp, new_session, now
):
    user = make_user("old@example.com")
    with new_session() as db:
        accounts.change_email(
            db, user_id=user.id, password="correct horse", email="New@Example.com", now=now
        )
    drain(notifier, smtp, 2)
    (verify,) = smtp.inbox.to("new@example.com")
    assert verify.subject == "Confirm your new email address"
    with new_session() as db:
        assert db.get(User, user.id).email == "old@example.com"  # not until verified
    with new_session() as db:
        changed = accounts.verify_email(db, token=verify.token("/account/verify/"), now=now)
    assert changed.email == "new@example.com"
    drain(notifier, smtp, 3)
    notice = [m for m in smtp.inbox.to("old@example.com") if "changed" in m.subject]
    assert len(notice) == 1
    assert "new@example.com" in notice[0].text and "/forgot" in notice[0].text


def test_each_event_is_emailed_once_even_when_replayed(make_user, notifier, smtp, db_url):
    for i in range(3):
        make_user(f"u{i}@example.com")
    drain(notifier, smtp, 3)
    # Replay the whole outbox (as after a lost position): the unique rows absorb it.
    with get_engine(db_url).begin() as conn:
        conn.execute(sa.text("UPDATE consumer_positions SET last_seq = 0"))
    notifier.run_once()
    notifier.run_once()
    assert len(smtp.inbox.messages) == 3
    assert len(deliveries(db_url)) == 3


def test_smtp_down_then_up_delivers_once_after_retry(make_user, notifier, smtp, db_url):
    smtp.stop()
    addresses = [f"patient{i}@example.com" for i in range(3)]
    for address in addresses:
        make_user(address)
    notifier.run_once()
    rows = deliveries(db_url)
    assert len(rows) == 3
    for row in rows:  # the whole batch waits, backed off, not retried in a hot loop
        assert row.status == DeliveryStatus.PENDING and row.attempts == 1
        assert "refused" in row.last_error.lower() or "Errno" in row.last_error
        assert row.next_attempt_at > utcnow()
    notifier.run_once()  # before the back-off has passed: nothing is tried
    assert {r.attempts for r in deliveries(db_url)} == {1}
    smtp.start()
    deadline = time.monotonic() + 10
    while len(smtp.inbox.messages) < 3 and time.monotonic() < deadline:
        notifier.run_once()  # does nothing until the back-off has passed
        time.sleep(0.1)
    notifier.run_once()
    for address in addresses:
        assert len(smtp.inbox.to(address)) == 1
    rows = deliveries(db_url)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.SENT, 2)}


def test_backoff_is_capped_at_30_seconds():
    waits = [notifications.backoff_seconds(n) for n in range(1, 12)]
    assert waits[:4] == [0.5, 1, 2, 4]
    assert waits == sorted(waits) and max(waits) == 30


def test_eml_files_without_smtp_url(make_user, db_url, tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_URL", raising=False)
    monkeypatch.setenv("TICKETING_MAIL_DIR", str(tmp_path / "mail"))
    reset_settings()
    try:
        make_user("files@example.com")
        Notifier(database_url=db_url, lease=FileLease("n", 10.0, scope=str(tmp_path))).run_once()
    finally:
        reset_settings()
    (path,) = (tmp_path / "mail").glob("*.eml")
    import email
    from email.policy import default

    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert message["To"] == "files@example.com"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert "/account/verify/" in message.get_body(("plain",)).get_content()


CHILD = """
import asyncio, sys
from ticketing_app.jobs.notifications import Notifier
from ticketing_app.mail import SmtpTransport
from ticketing_app.lease import FileLease
n = Notifier(database_url=sys.argv[1], transport=lambda: SmtpTransport(sys.argv[2]),
             lease=FileLease("child", 10.0, scope=sys.argv[3]), poll_interval=0.2)
asyncio.run(n.run())
"""


def test_restart_mid_burst_loses_nothing_and_resends_nothing_recorded(
    make_user, smtp, db_url, tmp_path
):
    count = 40
    for i in range(count):
        make_user(f"burst{i}@example.com")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, smtp.url, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db_url},
    )
    try:
        smtp.inbox.wait_for(lambda m: len(m) >= 5, timeout=30)
    finally:
        child.send_signal(signal.SIGKILL)  # a crash: no clean shutdown
        child.wait()
    recorded = {r.recipient for r in deliveries(db_url, status=DeliveryStatus.SENT)}
    before = len(smtp.inbox.messages)
    assert before < count, "the burst was still going when the notifier died"
    restarted = Notifier(
        database_url=db_url,
        transport=lambda: SmtpTransport(smtp.url),
        lease=FileLease("restarted", 10.0, scope=str(tmp_path)),
    )
    restarted.run_once()
    smtp.inbox.wait_for(
        lambda m: {x.to for x in m} >= {f"burst{i}@example.com" for i in range(count)}
    )
    for address in recorded:  # recorded as sent: never sent again
        assert len(smtp.inbox.to(address)) == 1, address
    # At most the one message in flight at the kill can arrive twice (SMTP has no idempotency).
    assert len(smtp.inbox.messages) <= count + 1
    assert all(r.status == DeliveryStatus.SENT for r in deliveries(db_url))
    assert len(deliveries(db_url)) == count
    assert json.loads(deliveries(db_url)[0].context).get("token") is None


def test_watch_emails_matching_listings_once_and_shows_in_app(
    seller, make_user, notifier, smtp, new_session, now
):
    from datetime import UTC, datetime

    from ticketing_app.services import events, tickets

    with new_session() as db:
        event = events.create_event(
            db,
            user_id=seller.id,
            name="Radiohead",
            venue="Olympia",
            city="Paris",
            starts_at=datetime(2026, 12, 5, 20, 0, tzinfo=UTC).isoformat(),
            now=now,
        ).event
    cheap, rich, anyone = (make_user(f"{n}@example.com") for n in ("cheap", "rich", "anyone"))
    for user, most in ((cheap, "30"), (rich, 50), (anyone, None), (seller, None)):
        with new_session() as db:
            watches.watch_event(db, user_id=user.id, event_id=event.id, max_price=most, now=now)
    with new_session() as db:
        listed = tickets.create_ticket(
            db, seller_id=seller.id, title="Floor", price=40, event_id=event.id, now=now
        )
    drain(notifier, smtp, 6)  # four welcomes + two matches
    notifier.run_once()
    for user in (rich, anyone):
        (match,) = [m for m in smtp.inbox.to(user.email) if "New ticket" in m.subject]
        assert match.subject == "New ticket for Radiohead: Floor at $40.00"
        assert match.link("/tickets/") == f"http://localhost:3000/tickets/{listed.id}"
        with new_session() as db:
            items, unread = watches.notifications_page(db, user_id=user.id)
        assert unread == 1 and items[0]["link"] == f"/tickets/{listed.id}"
        with new_session() as db:
            assert watches.mark_all_read(db, user_id=user.id, now=now) == 1
            assert watches.unread_count(db, user_id=user.id) == 0
    # above the maximum, or one's own listing: nothing
    assert not [m for m in smtp.inbox.to("cheap@example.com") if "New ticket" in m.subject]
    assert not [m for m in smtp.inbox.to(seller.email) if "New ticket" in m.subject]
    with new_session() as db:
        assert watches.unread_count(db, user_id=cheap.id) == 0
        assert [w["maxPrice"] for w in watches.list_watches(db, user_id=cheap.id)] == [30]


def test_payout_request_and_payment_are_emailed_to_the_seller(
    seller, buyer, make_user, make_ticket, reserve, notifier, smtp, db_url, new_session, now
):
    from ticketing_app.services import auth, payouts

    ticket = make_ticket(title="Seat", price="20", owner=seller)
    held = reserve(buyer, ticket.id)
    with get_engine(db_url).begin() as conn:
        transitions.complete(conn, order_id=held.order.id, payment_intent_id="pi_p", now=now)
    later = now + timedelta(hours=49)  # the sale's 48 h hold is over: the money is available
    with new_session() as db:
        payout = payouts.request_payout(db, seller_id=seller.id, now=later)
    drain(notifier, smtp, 5)  # two welcomes, the receipt, the sale, the request
    (requested,) = [m for m in smtp.inbox.to(seller.email) if m.subject.startswith("Payout")]
    assert requested.subject == "Payout of $20.00 requested"
    assert payout.id in requested.text and "in payout" in requested.text
    assert requested.link("/payouts") == "http://localhost:3000/payouts"

    ops = make_user("ops@example.com")
    with get_engine(db_url).begin() as conn:
        conn.execute(sa.update(User).where(User.id == ops.id).values(is_operator=True))
    operator = auth.SignedIn(id=ops.id, email=ops.email, is_operator=True)
    with new_session() as db:
        payouts.mark_paid(
            db, operator=operator, payout_id=payout.id, reference="TRF 2026-7", now=later
        )
    drain(notifier, smtp, 7)  # the operator's welcome, the payment
    notifier.run_once()
    payout_mails = [m for m in smtp.inbox.to(seller.email) if m.subject.startswith("Payout")]
    assert [m.subject for m in payout_mails] == [
        "Payout of $20.00 requested",
        "Payout of $20.00 sent",
    ]
    assert "TRF 2026-7" in payout_mails[1].text and "TRF 2026-7" in payout_mails[1].html
    # in the seller's in-app notifications too, linking to /payouts; nobody else hears of it
    with new_session() as db:
        items, _unread = watches.notifications_page(db, user_id=seller.id)
    assert [i["link"] for i in items if "Payout" in i["text"]] == ["/payouts", "/payouts"]
    for other in (buyer.email, ops.email):
        assert not [m for m in smtp.inbox.to(other) if m.subject.startswith("Payout")]


def test_buyer_is_told_when_the_seller_attaches_the_file_after_the_sale(
    seller, buyer, make_ticket, reserve, notifier, smtp, db_url, new_session, now
):
    """SPEC §10: a seller who attached nothing may attach once after the sale, and the
    buyer is told (email and in-app), with a link to the order that offers the download."""
    ticket = make_ticket(title="Balcony seat", price=40, owner=seller)
    held = reserve(buyer, ticket.id)
    with get_engine(db_url).begin() as conn:
        transitions.complete(conn, order_id=held.order.id, payment_intent_id="pi_f", now=now)
    drain(notifier, smtp, 4)  # two welcomes, the receipt, the sale
    with new_session() as db:
        delivery.attach_ticket_file(
            db, user_id=seller.id, ticket_id=ticket.id, data=pdf(), filename="t.pdf", now=now
        )
    inbox = drain(notifier, smtp, 5)
    (ready,) = [m for m in inbox if m.subject.endswith("is ready to download")]
    assert ready.to == "buyer@example.com"
    assert ready.subject == "Your ticket for Balcony seat is ready to download"
    assert ready.link("/orders/") == f"http://localhost:3000/orders/{held.order.id}"
    assert "Balcony seat" in ready.text and "Balcony seat" in ready.html
    with new_session() as db:
        items, unread = watches.notifications_page(db, user_id=buyer.id)
    assert unread >= 1 and any(i["link"] == f"/orders/{held.order.id}" for i in items)
    # A seller replacing a file while the ticket is still for sale tells nobody.
    other = make_ticket(title="Stalls", price=30, owner=seller)
    with new_session() as db:
        delivery.attach_ticket_file(
            db, user_id=seller.id, ticket_id=other.id, data=pdf(), filename="s.pdf", now=now
        )
    notifier.run_once()
    assert len(smtp.inbox.messages) == 5


def test_new_notifications_signal_their_users_once_after_commit(
    seller, make_user, notifier, new_session, db_url, now
):
    """The live bell's trigger: the consumer signals exactly the users who got a new in-app
    notification, after its commit; a replay (position reset) signals nobody; "mark all read"
    signals its user (their other tabs)."""
    from datetime import UTC, datetime

    from ticketing_app.services import events, tickets

    signals: list[set[str]] = []
    stop = watches.on_unread_changed(signals.append)
    try:
        with new_session() as db:
            event = events.create_event(
                db,
                user_id=seller.id,
                name="Signal Show",
                venue="Olympia",
                city="Paris",
                starts_at=datetime(2026, 12, 5, 20, 0, tzinfo=UTC).isoformat(),
                now=now,
            ).event
        fan, cheap = make_user("fan@example.com"), make_user("cheapfan@example.com")
        for user, most in ((fan, None), (cheap, "10")):
            with new_session() as db:
                watches.watch_event(db, user_id=user.id, event_id=event.id, max_price=most, now=now)
        notifier.consume_all()  # the welcomes: emails, no in-app notification
        assert signals == []
        with new_session() as db:
            tickets.create_ticket(
                db, seller_id=seller.id, title="Floor", price=40, event_id=event.id, now=now
            )
        notifier.consume_all()
        assert signals == [{fan.id}]
        with get_engine(db_url).begin() as conn:  # replay everything: nothing new, no signal
            conn.execute(sa.update(ConsumerPosition.__table__).values(last_seq=0))
        notifier.consume_all()
        assert signals == [{fan.id}]
        with new_session() as db:
            watches.mark_all_read(db, user_id=fan.id, now=now)
            watches.mark_all_read(db, user_id=cheap.id, now=now)  # nothing to mark: quiet
        assert signals == [{fan.id}, {fan.id}]
    finally:
        stop()
