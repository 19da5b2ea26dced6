"""The transactional outbox (SPEC rule 10, §7): events live and die with their transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlmodel import select

from ticketing_app import outbox
from ticketing_app.db import read_session
from ticketing_app.errors import DomainError
from ticketing_app.models import DomainEvent, Order, Ticket, User
from ticketing_app.services import orders, tickets

WINDOW = timedelta(seconds=900)


class Boom(Exception):
    pass


def record_one(db, now, aggregate_id: str) -> None:
    outbox.record(
        db,
        type="TicketUpdated",
        aggregate_type="ticket",
        aggregate_id=aggregate_id,
        aggregate_version=1,
        payload={"id": aggregate_id},
        now=now,
    )


def test_rolled_back_event_is_neither_stored_nor_delivered(new_session, now, delivered, db_url):
    doomed, kept = str(uuid.uuid4()), str(uuid.uuid4())
    with new_session() as db:
        with pytest.raises(Boom), db.begin():
            record_one(db, now, doomed)
            db.flush()  # the row reached the database inside the transaction
            raise Boom
        with db.begin():  # a later commit on the same session must not resurrect it
            record_one(db, now, kept)
    with read_session(db_url) as db:
        stored = db.exec(select(DomainEvent.aggregate_id)).all()
    assert stored == [kept]
    assert [e.aggregate_id for e in delivered] == [kept]


def test_failed_reserve_after_recording_leaves_no_trace(
    new_session, make_ticket, buyer, reserve, now, rows, delivered, stored_events
):
    """The reserve below expires the past-due hold (recording OrderExpired and TicketUpdated),
    then fails inserting the order (no such buyer): everything, events included, rolls back."""
    ticket = make_ticket()
    old = reserve(buyer, ticket.id).order
    before = len(stored_events())
    delivered.clear()
    ghost = User(id=str(uuid.uuid4()), email="ghost@example.com", password_hash="x")
    with pytest.raises(DomainError):
        reserve(ghost, ticket.id, at=now + WINDOW + timedelta(seconds=1))
    assert stored_events(before) == [] and delivered == []
    assert rows.order(old.id).status == "created"
    assert rows.ticket(ticket.id).order_id == old.id


def test_handlers_run_after_commit_and_see_committed_rows(
    new_session, make_ticket, buyer, reserve, db_url
):
    seen: list[tuple[str, bool]] = []

    def handler(event: outbox.Event) -> None:
        with read_session(db_url) as db:  # another connection: only committed data is visible
            row = db.exec(select(DomainEvent).where(DomainEvent.id == event.id)).first()
        seen.append((event.type, row is not None))

    unsubscribe = outbox.subscribe(handler)
    try:
        reserve(buyer, make_ticket().id)
    finally:
        unsubscribe()
    assert seen == [("TicketCreated", True), ("OrderCreated", True), ("TicketUpdated", True)]


def test_broken_handler_does_not_break_the_action_or_other_handlers(
    make_ticket, buyer, reserve, rows, delivered
):
    def broken(event: outbox.Event) -> None:
        raise RuntimeError("subscriber bug")

    unsubscribe = outbox.subscribe(broken)
    try:
        order = reserve(buyer, make_ticket().id).order
    finally:
        unsubscribe()
    assert rows.order(order.id).status == "created"
    assert [e.type for e in delivered][-2:] == ["OrderCreated", "TicketUpdated"]


def test_unknown_event_type_is_refused(new_session, now):
    with new_session() as db, pytest.raises(ValueError), db.begin():
        outbox.record(
            db,
            type="TicketTeleported",
            aggregate_type="ticket",
            aggregate_id=str(uuid.uuid4()),
            aggregate_version=1,
            payload={},
            now=now,
        )


def test_every_change_has_one_event_with_consecutive_versions(
    new_session, make_ticket, seller, buyer, make_user, reserve, now, db_url, delivered
):
    """A whole lifecycle; per aggregate the versions run 1, 2, 3… and end at the row's version."""
    other = make_user()
    ticket = make_ticket()
    with new_session() as db:
        tickets.update_ticket(
            db, user_id=seller.id, ticket_id=ticket.id, title="Edited", price=25, now=now
        )
    first = reserve(buyer, ticket.id).order
    with new_session() as db:
        orders.cancel_order(db, user_id=buyer.id, order_id=first.id, now=now)
    second = reserve(other, ticket.id).order
    third = reserve(buyer, ticket.id, at=now + WINDOW).order  # expires `second` first (rule 5)
    with new_session() as db:
        orders.expire_due_orders(db, now=now + 2 * WINDOW)
    spare = make_ticket(title="Spare")
    with new_session() as db:
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=spare.id, now=now)

    with read_session(db_url) as db:
        events = db.exec(select(DomainEvent).order_by(DomainEvent.seq)).all()
        current = {
            row.id: row.version for model in (User, Ticket, Order) for row in db.exec(select(model))
        }
    versions: dict[str, list[int]] = defaultdict(list)
    for e in events:
        versions[e.aggregate_id].append(e.aggregate_version)
    for aggregate_id, seq in versions.items():
        assert seq == list(range(1, len(seq) + 1)), aggregate_id
        assert seq[-1] == current[aggregate_id]
    assert [e.type for e in events if e.aggregate_id == ticket.id] == [
        "TicketCreated",
        "TicketUpdated",  # edit
        "TicketUpdated",  # reserved by first
        "TicketUpdated",  # released by cancel
        "TicketUpdated",  # reserved by second
        "TicketUpdated",  # released when second expired
        "TicketUpdated",  # reserved by third
        "TicketUpdated",  # released by the sweep
    ]
    assert [e.type for e in events if e.aggregate_id in (first.id, second.id, third.id)] == [
        "OrderCreated",
        "OrderCancelled",
        "OrderCreated",
        "OrderExpired",
        "OrderCreated",
        "OrderExpired",
    ]
    assert [e.type for e in events if e.aggregate_id == spare.id] == [
        "TicketCreated",
        "TicketCancelled",
    ]
    # In-process subscribers got exactly the committed events, in commit order.
    assert [e.id for e in delivered] == [e.id for e in events][-len(delivered) :]
    assert len(delivered) == len(events) - 2  # seller and buyer signed up before `delivered`
