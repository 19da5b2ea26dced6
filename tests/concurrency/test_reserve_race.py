"""Rule 4 under real contention: of many buyers released at once, exactly one gets the ticket.

PostgreSQL: 50 threads (each its own pooled connection). SQLite: 8 processes on one database
file, each with its own engine, as several backend workers would run. 20 rounds, a fresh ticket
per round.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from concurrency_helpers import (
    ALREADY_RESERVED_OUTCOME,
    NOW,
    reserve_call,
    reserve_worker,
    run_together,
)

from tests.support import World

ROUNDS = 20


def assert_one_winner(url: str, ticket_id: str, results: list[tuple[str, tuple]]) -> None:
    world = World(url, now=NOW)
    kinds = Counter(result for _, result in results if result[0] != "ok")
    winners = [(buyer, result[1]) for buyer, result in results if result[0] == "ok"]
    assert len(winners) == 1, (winners, kinds)
    assert set(kinds) <= {ALREADY_RESERVED_OUTCOME}, kinds  # no other error, no crash
    winner_buyer, winner_order = winners[0]
    placed = world.orders_for(ticket_id)
    assert [(o.id, o.user_id, o.status) for o in placed] == [
        (winner_order, winner_buyer, "created")
    ]
    ticket = world.get_ticket(ticket_id)
    assert (ticket.status, ticket.order_id, ticket.version) == ("reserved", winner_order, 2)


@pytest.mark.usefixtures("no_hoarding_limits")
def test_fifty_threads_one_winner_postgres(postgres_url: str) -> None:
    url = postgres_url
    world = World(url, now=NOW)
    seller = world.user().id
    buyers = [world.user().id for _ in range(50)]
    for _ in range(ROUNDS):
        ticket_id = world.ticket(seller).id
        outcomes = run_together([reserve_call(url, b, ticket_id) for b in buyers])
        assert_one_winner(url, ticket_id, list(zip(buyers, outcomes, strict=True)))


@pytest.mark.usefixtures("no_hoarding_limits")
def test_eight_processes_one_winner_sqlite(sqlite_url: str) -> None:
    url = sqlite_url
    world = World(url, now=NOW)
    seller = world.user().id
    buyers = [world.user().id for _ in range(8)]
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, like separate workers
    barrier = ctx.Barrier(len(buyers))
    tasks, results_q = ctx.Queue(), ctx.Queue()
    workers = [
        ctx.Process(target=reserve_worker, args=(url, b, barrier, tasks, results_q), daemon=True)
        for b in buyers
    ]
    for w in workers:
        w.start()
    try:
        for _ in range(ROUNDS):
            ticket_id = world.ticket(seller).id
            for _ in workers:
                tasks.put(ticket_id)
            results = [results_q.get(timeout=120) for _ in workers]
            assert_one_winner(url, ticket_id, results)
    finally:
        for _ in workers:
            tasks.put(None)
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
    assert all(w.exitcode == 0 for w in workers)
