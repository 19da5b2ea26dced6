"""The public market's read model (ticketing_app/readmodel.py) on both databases: after every
kind of change the next read shows it (compared with the same read from the database), and the
reads between changes are served from memory; what the live pushes read (the market page,
the events on `/`, an event's page) is fresh too; two workers bridged by Redis agree; a
worker that missed events (its subscription down, or never subscribed) serves nothing stale.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support import World, wait_until, wait_until_async
from ticketing_app import outbox, readmodel
from ticketing_app.db import get_engine, read_session, write_session
from ticketing_app.jobs.bus import EventBus
from ticketing_app.models import Event, User, utcnow
from ticketing_app.outbox import Event as DomainEvent
from ticketing_app.readmodel import ReadModel
from ticketing_app.services import event_start, events, tickets, transitions
from ticketing_app.settings import reset_settings

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
NEVER = 3600.0  # a gap-check interval no test reaches: only events keep the model fresh


def ticket_rows(items: Any) -> list[tuple[Any, ...]]:
    return [(t.id, t.version, t.status, t.price_cents, t.title, t.event_id) for t in items]


def event_rows(items: Any) -> list[tuple[Any, ...]]:
    return [(s.event.id, s.event.version, s.tickets_available, s.lowest_price_cents) for s in items]


def database_view(url: str, event_ids: list[str], ticket_ids: list[str]) -> dict[str, Any]:
    """What the read model must answer, read from the database by the services."""
    with read_session(url) as db:
        market = tickets.list_tickets(db, limit=readmodel.DEPTH)
    with read_session(url) as db:
        upcoming = events.list_events(db, now=utcnow(), limit=readmodel.DEPTH)
    view: dict[str, Any] = {
        "market": (ticket_rows(market.items), market.total),
        "upcoming": (event_rows(upcoming.items), upcoming.total),
    }
    for event_id in event_ids:
        with read_session(url) as db:
            summary, items = events.event_tickets(db, event_id, limit=readmodel.DEPTH)
        view[f"event {event_id}"] = (event_rows([summary]), ticket_rows(items))
    for ticket_id in ticket_ids:
        with read_session(url) as db:
            view[f"ticket {ticket_id}"] = ticket_rows([tickets.get_ticket(db, ticket_id)])
    return view


def model_view(model: ReadModel, event_ids: list[str], ticket_ids: list[str]) -> dict[str, Any]:
    market, upcoming = model.market_tickets(), model.upcoming_events()
    view: dict[str, Any] = {
        "market": (ticket_rows(market.items), market.total),
        "upcoming": (event_rows(upcoming.items), upcoming.total),
    }
    for event_id in event_ids:
        found = model.event_tickets(event_id)
        view[f"event {event_id}"] = (event_rows([found.summary]), ticket_rows(found.items))
    for ticket_id in ticket_ids:
        view[f"ticket {ticket_id}"] = ticket_rows([model.ticket(ticket_id)])
    return view


def make_event(world: World, user: User, starts_at: datetime, name: str) -> Event:
    with write_session(world.url) as db:
        return events.create_event(
            db,
            user_id=user.id,
            name=name,
            venue="Hall",
            city="Town",
            starts_at=starts_at.isoformat(),
            now=utcnow(),
        ).event


def list_for(world: World, seller: User, event: Event, price: int) -> Any:
    with write_session(world.url) as db:
        return tickets.create_ticket(
            db, seller_id=seller.id, title=f"Seat {price}", price=price, event_id=event.id,
            face_value=100, now=utcnow(),
        )  # fmt: skip


def sell(world: World, buyer: User, ticket: Any) -> None:
    """A finished sale as the payment flow leaves it, without Stripe (as demo.py does)."""
    now = utcnow()
    with get_engine(world.url).begin() as conn:
        held = transitions.reserve(conn, buyer_id=buyer.id, ticket_id=ticket.id, now=now)
        transitions.complete(
            conn, order_id=held.order.id, payment_intent_id=f"pi_test_{held.order.id}", now=now
        )


@pytest.fixture
def subscribed_model(db_url: str) -> Iterator[ReadModel]:
    """A read model fed by this process's committed events only (no gap checks)."""
    model = ReadModel(db_url, check_seconds=NEVER)
    unsubscribe = outbox.subscribe(model.apply)
    yield model
    unsubscribe()


def test_every_kind_of_change_is_in_the_next_read(
    world: World, db_url: str, subscribed_model: ReadModel
) -> None:
    model = subscribed_model
    seller, buyer, other = world.user(), world.user(), world.user()
    soon = make_event(world, seller, utcnow() + timedelta(days=2), "Soon")
    late = make_event(world, seller, utcnow() + timedelta(days=9), "Late")
    plain = world.ticket(seller, "Plain", 10)
    a = list_for(world, seller, soon, 90)
    b = list_for(world, seller, late, 80)
    event_ids, ticket_ids = [soon.id, late.id], [plain.id, a.id, b.id]

    def agree(step: str) -> None:
        assert model_view(model, event_ids, ticket_ids) == database_view(
            db_url, event_ids, ticket_ids
        ), step
        # Nothing changed since: the same reads again come from memory.
        builds = model.builds
        model_view(model, event_ids, ticket_ids)
        assert model.builds == builds, f"{step}: served from memory"

    agree("listed")
    c = list_for(world, other, soon, 70)
    ticket_ids.append(c.id)
    agree("list: a new listing of an event")
    world.edit(seller, a, "Seat 90, repriced", 60)
    agree("edit / reprice")
    with write_session(world.url) as db:  # moved to another event
        tickets.update_ticket(
            db, user_id=seller.id, ticket_id=b.id, title="Moved", price=80, event_id=soon.id,
            now=utcnow(),
        )  # fmt: skip
    agree("moved between events")
    held = world.reserve(buyer, plain, at=utcnow())
    agree("reserve")
    world.expire_due(at=held.order.expires_at + timedelta(seconds=1))
    agree("expire")
    held = world.reserve(other, a, at=utcnow())
    world.cancel_order(other, held.order)
    agree("order cancelled")
    sell(world, world.user(), c)
    agree("sell")
    world.cancel_ticket(seller, b)
    agree("listing cancelled")


def test_an_events_start_leaves_the_lists(
    world: World, db_url: str, subscribed_model: ReadModel
) -> None:
    model = subscribed_model
    seller = world.user()
    starts_at = (utcnow() + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
    starting = make_event(world, seller, starts_at, "Starting")
    ticket = list_for(world, seller, starting, 50)
    ids = ([starting.id], [ticket.id])
    assert model_view(model, *ids) == database_view(db_url, *ids)
    assert [s.event.id for s in model.upcoming_events().items] == [starting.id]
    wait_until(lambda: utcnow() >= starts_at, timeout=5, message="the event started")
    # No domain event yet: the upcoming list expires by itself at the first listed start.
    assert model.upcoming_events().items == ()
    with write_session(db_url) as db:
        assert event_start.withdraw_started_listings(db, now=utcnow()) == [ticket.id]
    assert model_view(model, *ids) == database_view(db_url, *ids)
    assert model.market_tickets().items == ()
    assert model.ticket(ticket.id).status == "cancelled"


def test_what_the_pages_and_pushes_read_is_fresh(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MarketState, EventsState and EventPageState read through `_read_page`, `_read_events`
    and `_event_page`, on load and on every live push: the next of them after a change
    shows it."""
    from ticketing_app.state import events as event_pages
    from ticketing_app.state import market

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TICKETING_READ_MODEL_CHECK_SECONDS", str(NEVER))
    reset_settings()
    readmodel.reset()
    try:
        seller, buyer = world.user(), world.user()
        show = make_event(world, seller, utcnow() + timedelta(days=3), "Show")
        ticket = list_for(world, seller, show, 40)

        def pages() -> tuple[Any, ...]:
            _total, cards, _capped = market._read_page("", "newest", 0)
            _count, event_cards = event_pages._read_events("", 0)
            event, listing = event_pages._event_page(show.id)
            return (
                [(c["id"], c["status"], c["total"]) for c in cards],
                [(e["id"], e["countText"], e["fromText"]) for e in event_cards],
                (event["countText"], [(c["id"], c["priceText"]) for c in listing]),
            )

        assert pages() == (
            [(ticket.id, "available", 40)],
            [(show.id, "1 ticket available", "from $40.00")],
            ("1 ticket available", [(ticket.id, "$40.00")]),
        )
        builds = readmodel.get_read_model().builds
        pages()
        assert readmodel.get_read_model().builds == builds  # from memory
        world.edit(seller, ticket, "Seat 40", 35)
        assert pages()[0] == [(ticket.id, "available", 35)]
        world.reserve(buyer, ticket, at=utcnow())
        assert pages() == (
            [],
            [(show.id, "No tickets available", "")],
            ("No tickets available", []),
        )
    finally:
        readmodel.reset()
        monkeypatch.undo()
        reset_settings()


def test_a_worker_that_missed_events_rebuilds_at_its_next_gap_check(
    world: World, db_url: str
) -> None:
    """Not subscribed at all (a writer outside every worker, a lost message): the next read
    after the gap check's interval sees the change."""
    model = ReadModel(db_url, check_seconds=0.3)
    seller = world.user()
    ticket = world.ticket(seller, "Before", 10)
    assert ticket_rows(model.market_tickets().items) == ticket_rows([ticket])
    edited = world.edit(seller, ticket, "After", 12)
    wait_until(
        lambda: ticket_rows(model.market_tickets().items) == ticket_rows([edited]),
        timeout=2,
        message="the gap check rebuilt the list",
    )


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL not set (CI sets it)")
def test_two_workers_with_redis_agree_and_a_restarted_one_serves_nothing_stale(
    world: World, db_url: str
) -> None:
    """Worker A commits (its model fed in-process, its bus publishing); worker B only hears
    Redis. B agrees with A and the database after each change; with B's subscription down it
    misses events, and once subscribed again it serves nothing stale."""
    channel = f"ticketing:test-events:{uuid.uuid4().hex[:8]}"
    seller, buyer = world.user(), world.user()
    show = make_event(world, seller, utcnow() + timedelta(days=3), "Show")

    async def scenario() -> None:
        model_a, model_b = ReadModel(db_url, NEVER), ReadModel(db_url, NEVER)
        unsubscribe = outbox.subscribe(model_a.apply)
        bus_a = EventBus(redis_url=TEST_REDIS_URL, channel=channel)
        bus_b = EventBus(redis_url=TEST_REDIS_URL, channel=channel)
        bus_b.add_listener(model_b.apply)
        bus_b.add_gap_listener(model_b.invalidate_all)
        task_a = asyncio.create_task(bus_a.run())
        # B is another process: it hears Redis only, never this process's outbox.
        task_b = asyncio.create_task(bus_b._listen_forever())
        ids: tuple[list[str], list[str]] = ([show.id], [])
        try:
            await asyncio.wait_for(bus_a.subscribed.wait(), 10)
            await asyncio.wait_for(bus_b.subscribed.wait(), 10)

            async def agree(step: str) -> None:
                truth = await asyncio.to_thread(database_view, db_url, *ids)
                assert await asyncio.to_thread(model_view, model_a, *ids) == truth, step

                await wait_until_async(
                    lambda: model_view(model_b, *ids) == truth,
                    5,
                    f"B agrees after {step}",
                    in_thread=True,
                )

            await agree("start")
            ticket = await asyncio.to_thread(list_for, world, seller, show, 30)
            ids[1].append(ticket.id)
            await agree("listed")
            await asyncio.to_thread(world.edit, seller, ticket, "Seat 30", 25)
            await agree("repriced")
            # B goes down mid-stream: events published meanwhile never reach it.
            task_b.cancel()
            await asyncio.gather(task_b, return_exceptions=True)
            stale = await asyncio.to_thread(model_view, model_b, *ids)
            await asyncio.to_thread(world.reserve, buyer, ticket, utcnow())
            await asyncio.sleep(0.3)  # A's publish has gone by
            assert await asyncio.to_thread(model_view, model_b, *ids) == stale  # missed it
            # Back up: its first subscription drops what it held; nothing stale is served.
            task_b = asyncio.create_task(bus_b._listen_forever())
            await asyncio.wait_for(bus_b.subscribed.wait(), 10)
            truth = await asyncio.to_thread(database_view, db_url, *ids)
            assert await asyncio.to_thread(model_view, model_b, *ids) == truth
            # A fresh worker (a restart) starts from the database.
            assert model_view(ReadModel(db_url, NEVER), *ids) == truth
            another = await asyncio.to_thread(list_for, world, seller, show, 20)
            await asyncio.to_thread(sell, world, world.user(), another)
            await agree("sold")
        finally:
            unsubscribe()
            for task in (task_a, task_b):
                task.cancel()
            await asyncio.gather(task_a, task_b, return_exceptions=True)

    asyncio.run(scenario())


ENTRIES = {
    "tickets": {"tickets"}, "events": {"events"}, "t1": {"ticket:t1"}, "t2": {"ticket:t2"},
    "e1": {"event:e1"}, "e2": {"event:e2"}, "e9": {"event:e9"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("aggregate", "aggregate_id", "payload", "dropped"),
    [
        ("ticket", "t1", {"eventId": "e1"}, {"tickets", "t1", "events", "e1"}),
        ("ticket", "t1", {}, {"tickets", "t1"}),
        ("ticket", "t1", {"eventId": "e1", "previousEventId": "e2"},
         {"tickets", "t1", "events", "e1", "e2"}),
        ("order", "o1", {"ticketId": "t1"}, {"tickets", "t1", "events", "e1", "e2", "e9"}),
        ("order", "o1", {}, set(ENTRIES)),
        ("event", "e1", {}, {"tickets", "events", "e1"}),
        ("user", "u1", {}, set()),
        ("charge", "c1", {"orderId": "o1"}, set()),
        ("payout", "p1", {"sellerId": "u1"}, set()),
        ("operator", "x1", {}, set(ENTRIES)),
    ],
)  # fmt: skip
def test_what_each_kind_of_event_drops(
    sqlite_url: str, aggregate: str, aggregate_id: str, payload: dict, dropped: set[str]
) -> None:
    """Known aggregates drop what shows them, whatever the event's type (new types of them
    included); an unknown aggregate type drops everything."""
    model = ReadModel(sqlite_url, NEVER)
    for key, tags in ENTRIES.items():
        model.get(key, tags, lambda key=key: key)
    model.apply(
        DomainEvent(
            id="x", type="SomethingNew", aggregate_type=aggregate, aggregate_id=aggregate_id,
            aggregate_version=1, payload=payload, created_at=utcnow(),
        )
    )  # fmt: skip
    assert {key for key in ENTRIES if model.peek(key) is None} == dropped
