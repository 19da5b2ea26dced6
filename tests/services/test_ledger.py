"""The seller ledger (SPEC §12) on both databases: a sale is pending, becomes available 48 h
after its event (or the sale), a refund reverses it from wherever it sits; payouts move the
available balance; balances are the ledger's sums."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.db_helpers import ROOT
from tests.support.money import balance, complete_paid, fees, recomputed
from ticketing_app.db import dispose_engines, read_session, write_session
from ticketing_app.errors import Forbidden, NotFound, RuleViolation, ValidationError
from ticketing_app.jobs.ledger_release import release_all_due
from ticketing_app.models import AuditEntry, LedgerEntry, PayoutStatus
from ticketing_app.services import auth, events, ledger, payouts, tickets, transitions

HOLD = timedelta(hours=48)


def sell(world, seller, buyer, price="20.00", event_id=None, at=None):
    """A ticket of `seller` reserved and completed by `buyer`: the completed order."""
    at = at or world.now
    with write_session(world.url) as db:
        ticket = tickets.create_ticket(
            db, seller_id=seller.id, title="Seat", price=price, event_id=event_id, now=at
        )
    order = world.reserve(buyer, ticket, at=at).order
    return complete_paid(world.url, order.id, at).order


def make_event(world, seller, starts_at):
    with write_session(world.url) as db:
        return events.create_event(
            db,
            user_id=seller.id,
            name="Radiohead",
            venue="Olympia",
            city="Paris",
            starts_at=starts_at.isoformat(),
            now=world.now,
        ).event


def reverse(world, order_id, at):
    with write_session(world.url) as db, db.begin():
        return ledger.reverse_sale(db.connection(), order_id, at)


def request(world, seller, at):
    with write_session(world.url) as db:
        return payouts.request_payout(db, seller_id=seller.id, now=at)


def operator_of(world, user):
    world.execute(sa.text("UPDATE users SET is_operator = true WHERE id = :id"), id=user.id)
    return auth.SignedIn(id=user.id, email=user.email, is_operator=True)


def mark_paid(world, operator, payout_id, reference="TRF-1", at=None):
    with write_session(world.url) as db:
        return payouts.mark_paid(
            db, operator=operator, payout_id=payout_id, reference=reference, now=at or world.now
        )


def as_dict(b: ledger.Balance) -> dict[str, int]:
    return {
        "pending": b.pending,
        "available": b.available,
        "payout": b.in_payout,
        "paid_out": b.paid_out,
    }


def test_sale_is_pending_then_available_48h_after_the_event(world, seller, buyer):
    starts = world.now + timedelta(days=3)
    event = make_event(world, seller, starts)
    with fees("10", "5"):
        order = sell(world, seller, buyer, "20.00", event_id=event.id)
    assert (order.total_cents, order.seller_fee_cents) == (2200, 100)
    assert balance(world.url, seller.id) == ledger.Balance(pending=1900)
    # Before the event + 48 h nothing moves, however often the sweep runs.
    assert release_all_due(now=starts + HOLD - timedelta(seconds=1), db_url=world.url) == []
    assert balance(world.url, seller.id).pending == 1900
    assert release_all_due(now=starts + HOLD, db_url=world.url) == [order.id]
    assert release_all_due(now=starts + HOLD + timedelta(hours=1), db_url=world.url) == []
    assert balance(world.url, seller.id) == ledger.Balance(available=1900)
    assert recomputed(world.url, seller.id) == as_dict(balance(world.url, seller.id))


def test_sale_without_event_is_available_48h_after_the_sale(world, seller, buyer):
    order = sell(world, seller, buyer, "12.34")
    assert release_all_due(now=world.now + HOLD - timedelta(minutes=1), db_url=world.url) == []
    assert release_all_due(now=world.now + HOLD, db_url=world.url) == [order.id]
    assert balance(world.url, seller.id) == ledger.Balance(available=1234)


def test_cancelled_event_keeps_its_sales_pending(world, seller, buyer):
    starts = world.now + timedelta(days=1)
    event = make_event(world, seller, starts)
    sell(world, seller, buyer, event_id=event.id)
    world.execute(sa.text("UPDATE events SET status = 'cancelled' WHERE id = :id"), id=event.id)
    assert release_all_due(now=starts + HOLD * 2, db_url=world.url) == []
    assert balance(world.url, seller.id).pending == 2000


def test_refund_reverses_a_pending_sale_once(world, seller, buyer):
    order = sell(world, seller, buyer)
    assert reverse(world, order.id, world.now) == 2000
    assert reverse(world, order.id, world.now) == 0  # idempotent
    assert balance(world.url, seller.id) == ledger.Balance()
    # A reversed sale is never released later.
    assert release_all_due(now=world.now + HOLD * 2, db_url=world.url) == []
    assert balance(world.url, seller.id) == ledger.Balance()


def test_refund_reverses_an_available_sale_from_available(world, seller, buyer):
    order = sell(world, seller, buyer)
    other = sell(world, seller, world.user(), "5.00")
    release_all_due(now=world.now + HOLD, db_url=world.url)
    assert reverse(world, order.id, world.now + HOLD) == 2000
    assert balance(world.url, seller.id) == ledger.Balance(available=500)
    assert reverse(world, other.id, world.now + HOLD) == 500
    assert balance(world.url, seller.id) == ledger.Balance()
    assert recomputed(world.url, seller.id) == as_dict(balance(world.url, seller.id))


def test_refund_after_payout_leaves_available_negative(world, seller, buyer):
    order = sell(world, seller, buyer)
    payout = request(world, seller, world.now + HOLD)
    assert payout.amount_cents == 2000
    assert reverse(world, order.id, world.now + HOLD) == 2000
    assert balance(world.url, seller.id) == ledger.Balance(available=-2000, in_payout=2000)
    with pytest.raises(RuleViolation, match="Nothing is available"):
        request(world, seller, world.now + HOLD)


def test_reverse_sale_of_an_order_without_a_sale_writes_nothing(world, seller, buyer):
    open_order = world.reserve(buyer, world.ticket(seller)).order
    assert reverse(world, open_order.id, world.now) == 0
    assert reverse(world, "not-an-order", world.now) == 0
    with read_session(world.url) as db:
        assert db.exec(sa.select(sa.func.count()).select_from(LedgerEntry)).one()[0] == 0


def test_payout_takes_the_whole_available_balance_and_is_paid(world, seller, buyer):
    with pytest.raises(RuleViolation, match="Nothing is available"):
        request(world, seller, world.now)
    sell(world, seller, buyer, "20.00")
    sell(world, seller, world.user(), "7.50")
    with pytest.raises(RuleViolation):  # still pending
        request(world, seller, world.now + timedelta(hours=1))
    # No sweep has run: the request releases what is due itself.
    payout = request(world, seller, world.now + HOLD)
    assert (payout.amount_cents, payout.status) == (2750, PayoutStatus.REQUESTED)
    assert balance(world.url, seller.id) == ledger.Balance(in_payout=2750)
    with pytest.raises(RuleViolation):
        request(world, seller, world.now + HOLD)

    operator = operator_of(world, world.user())
    paid = mark_paid(world, operator, payout.id, "  TRF   2026-001 ")
    assert (paid.status, paid.reference, paid.paid_by) == ("paid", "TRF 2026-001", operator.id)
    assert balance(world.url, seller.id) == ledger.Balance(paid_out=2750)
    assert recomputed(world.url, seller.id) == as_dict(balance(world.url, seller.id))
    with pytest.raises(RuleViolation, match="already marked paid"):
        mark_paid(world, operator, payout.id, "TRF-2")
    with read_session(world.url) as db:
        audit = db.exec(sa.select(AuditEntry)).scalars().all()
    assert [(a.action, a.target_id, a.operator_id) for a in audit] == [
        ("payout.paid", payout.id, operator.id)
    ]
    assert [e.type for e in world.events(payout)] == ["PayoutRequested", "PayoutPaid"]
    assert [e.aggregate_version for e in world.events(payout)] == [1, 2]


def test_mark_paid_refusals_change_nothing(world, seller, buyer):
    sell(world, seller, buyer)
    payout = request(world, seller, world.now + HOLD)
    someone = auth.SignedIn(id=buyer.id, email=buyer.email, is_operator=False)
    operator = operator_of(world, world.user())
    with pytest.raises(Forbidden):
        mark_paid(world, someone, payout.id)
    with pytest.raises(NotFound):
        mark_paid(world, operator, "nope")
    with pytest.raises(NotFound):
        mark_paid(world, operator, "00000000-0000-4000-8000-000000000000")
    for bad in ("", "   ", None, 5, "x" * 201, "a\x00b"):
        with pytest.raises(ValidationError) as refused:
            mark_paid(world, operator, payout.id, bad)
        assert refused.value.field == "reference"
    assert balance(world.url, seller.id) == ledger.Balance(in_payout=2000)
    assert world.event_types(payout) == ["PayoutRequested"]


def test_entries_newest_first(world, seller, buyer):
    order = sell(world, seller, buyer, "20.00")
    payout = request(world, seller, world.now + HOLD)
    with read_session(world.url) as db:
        lines = payouts.list_entries(db, seller_id=seller.id)
    assert [(line["kind"], line["bucket"], line["amount"]) for line in lines] == [
        ("payout", "payout", 20),
        ("payout", "available", -20),
        ("release", "available", 20),
        ("release", "pending", -20),
        ("sale", "pending", 20),
    ]
    assert lines[-1]["orderId"] == order.id and lines[-1]["ticketTitle"] == "Seat"
    assert lines[0]["payoutId"] == payout.id


def test_a_sale_is_recorded_with_its_order_event(world, seller, buyer, delivered):
    order = sell(world, seller, buyer)
    assert balance(world.url, seller.id).pending == 2000
    completed = [e for e in delivered if e.type == "OrderCompleted"]
    assert [(e.aggregate_id, e.payload["total"]) for e in completed] == [(order.id, 20)]


def test_a_sale_rolled_back_leaves_no_ledger_row(world, seller, buyer):
    order = world.reserve(buyer, world.ticket(seller)).order
    with pytest.raises(RuntimeError), write_session(world.url) as db, db.begin():
        transitions.complete(
            db.connection(), order_id=order.id, payment_intent_id="pi_x", now=world.now
        )
        raise RuntimeError("the settling transaction fails after complete")
    assert balance(world.url, seller.id) == ledger.Balance()
    assert world.get_order(order.id).status == "created"


def test_migration_0008_backfills_the_sales_completed_before_it(world, seller, buyer):
    """Upgrading a deployment: its completed orders' proceeds appear as pending sales."""
    from alembic.config import Config

    from alembic import command

    with fees("0", "5"):
        order = sell(world, seller, buyer, "20.00")
    world.reserve(world.user(), world.ticket(seller))  # an open order: no sale
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["database_url"] = world.url
    cfg.attributes["configure_logger"] = False
    dispose_engines()
    command.downgrade(cfg, "0007")
    command.upgrade(cfg, "head")
    dispose_engines()
    with read_session(world.url) as db:
        rows = db.exec(sa.select(LedgerEntry)).scalars().all()
    assert [(r.order_id, r.kind, r.bucket, r.amount_cents) for r in rows] == [
        (order.id, "sale", "pending", 1900)
    ]
