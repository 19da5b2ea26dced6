"""Each user-visible action writes exactly its events, versions rising by one per aggregate;
an event written in a transaction that rolls back exists nowhere."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from tests.support.relay import drain, make_relay
from ticketing_app import outbox
from ticketing_app.outbox import store


def events_after(url: str, seq: int) -> list[tuple[str, str, int]]:
    return [
        (r.type, r.aggregate_id, r.aggregate_version)
        for r in store.fetch_since(url, since_seq=seq, limit=1000)
    ]


def last_seq(url: str) -> int:
    rows = store.fetch_since(url, limit=100_000)
    return rows[-1].seq if rows else 0


def test_each_action_writes_its_events(db_url, world, now):
    seen: list[outbox.Event] = []
    unsubscribe = outbox.subscribe(seen.append)
    try:
        mark = 0

        def step() -> list[tuple[str, str, int]]:
            nonlocal mark
            got = events_after(db_url, mark)
            mark = last_seq(db_url)
            return got

        seller = world.user().id
        assert step() == [("UserCreated", seller, 1)]
        buyer, next_buyer = world.user().id, world.user().id
        step()
        ticket = world.ticket(seller).id
        assert step() == [("TicketCreated", ticket, 1)]
        world.edit(seller, ticket)
        assert step() == [("TicketUpdated", ticket, 2)]
        order = world.order(buyer, ticket).id
        assert step() == [("OrderCreated", order, 1), ("TicketUpdated", ticket, 3)]
        world.cancel_order(buyer, order)
        assert step() == [("OrderCancelled", order, 2), ("TicketUpdated", ticket, 4)]
        world.cancel_order(buyer, order)  # cancelling a cancelled order is a no-op
        assert step() == []
        order2 = world.order(next_buyer, ticket).id  # the first buyer is in its cooldown
        assert step() == [("OrderCreated", order2, 1), ("TicketUpdated", ticket, 5)]
        assert world.expire_due(now + timedelta(days=1)) == [order2]
        assert step() == [("OrderExpired", order2, 2), ("TicketUpdated", ticket, 6)]
        other = world.ticket(seller, "Jazz").id
        step()
        world.cancel_ticket(seller, other)
        assert step() == [("TicketCancelled", other, 2)]
    finally:
        unsubscribe()

    # In-process handlers got the same events, in the same order, after each commit.
    rows = store.fetch_since(db_url, limit=1000)
    assert [(e.id, e.type) for e in seen] == [(r.id, r.type) for r in rows]
    versions: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        versions[r.aggregate_id].append(r.aggregate_version)
    for aggregate, vs in versions.items():
        assert vs == list(range(vs[0], vs[0] + len(vs))), aggregate
    # Ticket payloads use the API's JSON shape; datetimes are ISO 8601 with Z.
    assert seen[0].payload["createdAt"].endswith("Z")
    assert seen[-1].payload["status"] == "cancelled"


def test_event_in_rolled_back_transaction_is_never_delivered(db_url, world, now, request):
    seller = world.user().id
    seen: list[outbox.Event] = []
    unsubscribe = outbox.subscribe(seen.append)
    try:
        with world.new_session() as db, pytest.raises(RuntimeError), db.begin():
            outbox.record(
                db,
                type="UserUpdated",
                aggregate_type="user",
                aggregate_id=seller,
                aggregate_version=2,
                payload={"id": seller},
                now=now,
            )
            db.flush()  # the row really reached the database before the rollback
            raise RuntimeError("something failed after the event was written")
    finally:
        unsubscribe()
    assert seen == []
    assert [r.type for r in store.fetch_since(db_url, limit=100)] == ["UserCreated"]

    nats_url = request.getfixturevalue("nats_url")
    stream = request.getfixturevalue("stream")
    drain(make_relay(db_url, nats_url, stream, poll_interval=0.1), db_url)
    got = request.getfixturevalue("reader")(stream, expect=1)
    assert [m["type"] for m in got] == ["UserCreated"]
