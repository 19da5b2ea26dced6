"""Cancelling an event (SPEC §12's must-show), on both databases, against localstripe: an event
with 3 available, 2 reserved and 2 paid tickets ends with every listing withdrawn, both
reservations cancelled and both payments refunded in full exactly once — also when the cancel
runs twice at once, and when the process dies between the commit and Stripe (the refund sweep
finishes it); with the audit row, and everyone told."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from admin_helpers import Show, audit_rows, make_operator, make_show

from tests.support import ROOT, World, child_env, wait_until
from tests.support.stripe import LocalStripe
from ticketing_app.db import dispose_engines, get_engine, read_session, write_session
from ticketing_app.errors import RuleViolation
from ticketing_app.models import Delivery, Event
from ticketing_app.services import (
    admin_events,
    ledger,
    notifications,
    payment_upkeep,
    payouts,
    watches,
)
from ticketing_app.services import stripe_gateway as gateway
from ticketing_app.services.auth import SignedIn
from ticketing_app.services.settlement import REFUND_LEASE

REASON = "The venue flooded"


def _assert_cancelled(world: World, show: Show, localstripe: LocalStripe) -> None:
    with read_session(world.url) as db:
        assert db.get(Event, show.event.id).status == "cancelled"
    assert {world.get_ticket(t).status for t in show.tickets} == {"cancelled"}
    for order in show.reserved:
        assert world.get_order(order).status == "cancelled"
    for order in show.paid:
        after = world.get_order(order)
        assert after.status == "cancelled" and after.e_ticket_revoked_at is not None
        [charge] = world.charges(order)
        assert charge.status == "refunded"
        refunds = localstripe.refunds_of(charge.stripe_id)
        assert [(r.amount, r.status) for r in refunds] == [(charge.amount_cents, "succeeded")]
        assert len(world.events(charge.id, type="ChargeRefunded")) == 1
    [row] = audit_rows(world, action="event.cancel")
    details = json.loads(row.details)
    assert (row.target_id, row.reason) == (show.event.id, REASON)
    assert (details["listingsWithdrawn"], details["reservationsCancelled"]) == (5, 2)
    assert sorted(details["ordersRefunded"]) == sorted(o.id for o in show.paid)
    # The seller's two sales were reversed in the ledger: nothing pending, nothing to pay out.
    with read_session(world.url) as db:
        assert payouts.get_balance(db, seller_id=show.seller.id) == ledger.Balance()


def test_cancel_withdraws_cancels_refunds_and_tells_everyone(
    world: World, localstripe: LocalStripe
) -> None:
    operator = make_operator(world)
    show = make_show(world)
    watcher = world.user()
    with write_session(world.url) as db:
        watches.watch_event(
            db, user_id=watcher.id, event_id=show.event.id, max_price=None, now=world.now
        )
    with write_session(world.url) as db:
        admin_events.cancel_event(
            db, operator=operator, event_id=show.event.id, reason=REASON, now=world.now
        )
    _assert_cancelled(world, show, localstripe)

    engine = get_engine(world.url)
    while notifications.consume(engine, now=world.now + timedelta(minutes=1))[0]:
        pass
    with engine.connect() as conn:
        sent = {
            (r.template, r.recipient)
            for r in conn.execute(sa.select(Delivery.template, Delivery.recipient))
        }
    emails = {world.get_user(o.user_id).email for o in show.paid}
    assert {("refund", e) for e in emails} <= sent
    holders = {world.get_user(o.user_id).email for o in show.reserved}
    assert {("reservation_cancelled", e) for e in holders} <= sent
    assert ("listing_withdrawn", show.seller.email) in sent
    assert ("event_cancelled", watcher.email) in sent


def test_two_cancels_at_once_refund_each_payment_once(
    world: World, localstripe: LocalStripe
) -> None:
    operator = make_operator(world)
    show = make_show(world)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def cancel() -> None:
        barrier.wait()
        try:
            with write_session(world.url) as db:
                admin_events.cancel_event(
                    db, operator=operator, event_id=show.event.id, reason=REASON, now=world.now
                )
            outcomes.append("cancelled")
        except RuleViolation as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == sorted(["cancelled", admin_events.EVENT_ALREADY_CANCELLED])
    _assert_cancelled(world, show, localstripe)


def _blackhole() -> socket.socket:
    """A "Stripe" that accepts connections and never answers: the refund call hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


CANCEL_IN_CHILD = """
import sys
from datetime import datetime
from ticketing_app.db import write_session
from ticketing_app.services import admin_events
from ticketing_app.services.auth import SignedIn
op = SignedIn(id=sys.argv[1], email=sys.argv[2], is_operator=True)
with write_session() as db:
    admin_events.cancel_event(db, operator=op, event_id=sys.argv[3], reason=sys.argv[4],
                       now=datetime.fromisoformat(sys.argv[5]))
"""


def _cancel_in_a_process_that_dies(world: World, operator: SignedIn, show: Show) -> None:
    hole = _blackhole()
    env = child_env(
        {
            "DATABASE_URL": world.url,
            "STRIPE_API_BASE": f"http://127.0.0.1:{hole.getsockname()[1]}",
        }
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CANCEL_IN_CHILD, operator.id, operator.email, show.event.id,
         REASON, world.now.isoformat()],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    try:

        def committed() -> bool:
            with read_session(world.url) as db:
                return db.get(Event, show.event.id, populate_existing=True).status == "cancelled"

        wait_until(committed, timeout=60, message="the child's cancel to commit")
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # dies between the commit and Stripe
        child.wait(10)
        hole.close()


def test_a_crash_between_commit_and_refund_is_finished_by_the_sweep_exactly_once(
    world: World, localstripe: LocalStripe
) -> None:
    operator = make_operator(world)
    show = make_show(world)
    dispose_engines()
    _cancel_in_a_process_that_dies(world, operator, show)

    for order in show.paid:  # the claims committed; Stripe never heard of them
        [charge] = world.charges(order)
        assert charge.status == "succeeded"
        assert localstripe.refunds_of(charge.stripe_id) == []
    assert len(audit_rows(world, action="event.cancel")) == 1
    # As if the dead process had got one refund through Stripe before it died (but not
    # recorded it): the sweep's retry is the same refund, not a second one.
    first = show.paid[0]
    gateway.refund_intent(
        first.payment_intent_id,
        idempotency_key=f"ticketing-refund-{first.id}-{first.payment_intent_id}",
        order_id=first.id,
    )
    assert len(localstripe.refunds_of(first.payment_intent_id)) == 1

    with write_session(world.url) as db:  # within the claim lease: left to its owner
        assert payment_upkeep.retry_pending_refunds(db, now=world.now) == 0
    later = world.now + REFUND_LEASE + timedelta(seconds=1)
    with write_session(world.url) as db:  # a restarted worker's sweep
        assert payment_upkeep.retry_pending_refunds(db, now=later) == 2
    with write_session(world.url) as db:  # and again: nothing left
        assert payment_upkeep.retry_pending_refunds(db, now=later) == 0
    _assert_cancelled(world, show, localstripe)
    with write_session(world.url) as db, pytest.raises(RuleViolation):  # a later second click
        admin_events.cancel_event(
            db, operator=operator, event_id=show.event.id, reason=REASON, now=later
        )
    _assert_cancelled(world, show, localstripe)
