"""A payout request can never exceed the available balance (SPEC §12): two concurrent
requests for the whole balance, on both databases, round after round — exactly one is
accepted and the ledger never pays out more than it held."""

from __future__ import annotations

from datetime import timedelta

import pytest
from concurrency_helpers import NOW, run_together

from tests.support import World
from tests.support.money import balance, complete_paid
from ticketing_app.db import write_session
from ticketing_app.services import auth, ledger, payouts

ROUNDS = 5
LATER = NOW + timedelta(hours=49)


def request_call(url: str, seller_id: str):
    def call() -> int:
        with write_session(url) as db:
            return payouts.request_payout(db, seller_id=seller_id, now=LATER).amount_cents

    return call


def reverse_call(url: str, order_id: str):
    def call() -> int:
        with write_session(url) as db, db.begin():
            return ledger.reverse_sale(db.connection(), order_id, LATER)

    return call


@pytest.mark.parametrize("racers", [2, 4])
def test_concurrent_payout_requests_exactly_one_wins(db_url: str, racers: int) -> None:
    world = World(db_url, now=NOW)
    seller = world.user()
    paid = 0
    for round_ in range(ROUNDS):
        price = 10 + round_
        order = world.reserve(world.user(), world.ticket(seller, price=price)).order
        complete_paid(db_url, order.id, NOW)
        results = run_together([request_call(db_url, seller.id) for _ in range(racers)])
        accepted = [value for kind, value in results if kind == "ok"]
        refused = [value for kind, value in results if kind == "refused"]
        assert accepted == [price * 100], results
        assert refused == [payouts.NOTHING_AVAILABLE] * (racers - 1), results
        paid += price * 100
        assert balance(db_url, seller.id) == ledger.Balance(in_payout=paid)


def test_refund_racing_a_release_reverses_from_one_bucket(db_url: str) -> None:
    """reverse_sale and the payout request's release of the same sale, at once: the sale
    leaves pending exactly once, whichever goes first."""
    world = World(db_url, now=NOW)
    for _ in range(ROUNDS):
        seller = world.user()
        order = world.reserve(world.user(), world.ticket(seller, price=20)).order
        complete_paid(db_url, order.id, NOW)
        results = run_together([reverse_call(db_url, order.id), request_call(db_url, seller.id)])
        assert results[0] == ("ok", 2000), results
        final = balance(db_url, seller.id)
        if results[1][0] == "ok":  # released and requested first, then reversed
            assert final == ledger.Balance(available=-2000, in_payout=2000), results
        else:  # reversed first: nothing was left to release
            assert results[1] == ("refused", payouts.NOTHING_AVAILABLE)
            assert final == ledger.Balance(), results


def test_concurrent_refunds_of_one_sale_reverse_it_once(db_url: str) -> None:
    world = World(db_url, now=NOW)
    for _ in range(ROUNDS):
        seller = world.user()
        order = world.reserve(world.user(), world.ticket(seller, price=20)).order
        complete_paid(db_url, order.id, NOW)
        results = run_together([reverse_call(db_url, order.id) for _ in range(3)])
        assert sorted(results) == [("ok", 0), ("ok", 0), ("ok", 2000)], results
        assert balance(db_url, seller.id) == ledger.Balance()


def test_concurrent_mark_paid_pays_once(db_url: str) -> None:
    world = World(db_url, now=NOW)
    seller = world.user()
    operators = []
    for _ in range(3):
        user = world.user()
        world.execute("UPDATE users SET is_operator = true WHERE id = :id", id=user.id)
        operators.append(auth.SignedIn(id=user.id, email=user.email, is_operator=True))
    for round_ in range(ROUNDS):
        order = world.reserve(world.user(), world.ticket(seller, price=10)).order
        complete_paid(db_url, order.id, NOW)
        with write_session(db_url) as db:
            payout_id = payouts.request_payout(db, seller_id=seller.id, now=LATER).id
        results = run_together(
            [mark_call(db_url, op, payout_id, f"TRF-{i}") for i, op in enumerate(operators)]
        )
        assert [kind for kind, _ in results].count("ok") == 1, results
        assert all("already marked paid" in v for kind, v in results if kind == "refused")
        assert balance(db_url, seller.id) == ledger.Balance(paid_out=1000 * (round_ + 1))


def mark_call(url: str, operator: auth.SignedIn, payout_id: str, reference: str):
    def call() -> str | None:
        with write_session(url) as db:
            return payouts.mark_paid(
                db, operator=operator, payout_id=payout_id, reference=reference, now=LATER
            ).reference

    return call
