"""Events (SPEC §9): create-or-get with dedupe (also under concurrency), start-time and text
validation, upcoming search with figures, an event's tickets cheapest first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app.db import read_session
from ticketing_app.errors import NotFound, ValidationError
from ticketing_app.models import Event, Ticket, User
from ticketing_app.services import events, orders, tickets

START = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # `now` is 2026-11-25 12:00 UTC


@pytest.fixture
def make_event(new_session: Callable[[], Session], now: datetime, seller: User) -> Callable:
    def make(
        name: str = "Radiohead",
        venue: str = "Olympia",
        city: str = "Paris",
        starts_at: Any = START,
        by: User | None = None,
        at: datetime | None = None,
    ) -> events.EventCreation:
        with new_session() as db:
            return events.create_event(
                db,
                user_id=(by or seller).id,
                name=name,
                venue=venue,
                city=city,
                starts_at=starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at,
                now=at or now,
            )

    return make


@pytest.fixture
def list_for(new_session: Callable[[], Session], now: datetime, seller: User) -> Callable:
    """List a ticket for an event (price, face value) as `owner` (default: the seller)."""

    def make(event_id: str | None, price: Any = 50, face_value: Any = None, owner=None) -> Ticket:
        with new_session() as db:
            return tickets.create_ticket(
                db,
                seller_id=(owner or seller).id,
                title="Seat",
                price=price,
                event_id=event_id,
                face_value=face_value,
                now=now,
            )

    return make


def count_events(db_url: str) -> int:
    with read_session(db_url) as db:
        return db.exec(select(sa.func.count()).select_from(Event)).one()


def test_create_event_stores_it_and_writes_event_created(make_event, seller, stored_events, now):
    result = make_event(name="  Radiohead   live ", venue="Olympia", city=" Paris ")
    assert result.created
    event = result.event
    assert (event.name, event.venue, event.city) == ("Radiohead live", "Olympia", "Paris")
    assert (event.starts_at, event.status, event.created_by) == (START, "scheduled", seller.id)
    assert result.summary.view() == {
        "id": event.id,
        "name": "Radiohead live",
        "venue": "Olympia",
        "city": "Paris",
        "startsAt": "2026-12-05T20:00:00.000Z",
        "status": "scheduled",
        "ticketsAvailable": 0,
        "lowestPrice": None,
    }
    (created,) = [e for e in stored_events() if e.aggregate_type == "event"]
    assert (created.type, created.aggregate_id, created.aggregate_version) == (
        "EventCreated",
        event.id,
        1,
    )
    assert created.payload["name"] == "Radiohead live"
    assert created.payload["createdBy"] == seller.id


def test_same_name_venue_and_start_returns_the_existing_event(
    make_event, make_user, db_url, stored_events, list_for
):
    first = make_event()
    list_for(first.event.id, price=40)
    same = [
        make_event(name="RADIOHEAD", venue="olympia"),
        make_event(name="  radiohead ", venue="Olympia  "),
        make_event(name="Radiohead", venue="Olympia", city="Somewhere else"),
        make_event(starts_at="2026-12-05T21:00:00+01:00", by=make_user()),  # same instant
        make_event(starts_at="2026-12-05T20:00:00.400Z"),  # to the second
    ]
    for again in same:
        assert not again.created
        assert again.event.id == first.event.id
        assert again.summary.tickets_available == 1 and again.summary.lowest_price_cents == 4000
    assert make_event(name="Radiohead", venue="Olympia Hall").created
    assert make_event(starts_at=START + timedelta(minutes=1)).created
    assert count_events(db_url) == 3
    assert [e.type for e in stored_events() if e.aggregate_type == "event"] == ["EventCreated"] * 3


def test_names_cannot_run_into_the_venue(make_event, db_url):
    """The key keeps name and venue apart: "A B" at "C" is not "A" at "B C"."""
    assert make_event(name="Jazz Night", venue="Blue Note").created
    assert make_event(name="Jazz", venue="Night Blue Note").created


@pytest.mark.parametrize("threads", [8])
def test_concurrent_creations_of_one_event_make_one_row(
    db_url, new_session, make_user, now, threads
):
    users = [make_user() for _ in range(threads)]
    barrier = threading.Barrier(threads)
    results: list[events.EventCreation] = []
    errors: list[BaseException] = []

    def create(user: User) -> None:
        barrier.wait()
        try:
            with new_session() as db:
                results.append(
                    events.create_event(
                        db,
                        user_id=user.id,
                        name="Cup Final",
                        venue="Wembley",
                        city="London",
                        starts_at="2026-12-20T15:00:00Z",
                        now=now,
                    )
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=create, args=(u,)) for u in users]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert len({r.event.id for r in results}) == 1
    assert sorted(r.created for r in results) == [False] * (threads - 1) + [True]
    assert count_events(db_url) == 1


def test_losing_an_insert_race_returns_the_winner(make_event, new_session, seller, now, db_url):
    """The path the unique index decides: the row appears between our check and our INSERT
    (forced here by inserting the winner from inside the loser's first statement)."""
    winner_key = events.dedupe_key("Late Show", "Apollo", START)
    inserted: list[str] = []
    fired: list[bool] = []

    def sneak_in(conn, cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if fired or not statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            return
        fired.append(True)  # once: the winner's own INSERT comes through here too
        with new_session() as other, other.begin():
            winner = Event(
                name="Late Show",
                venue="Apollo",
                city="London",
                starts_at=START,
                dedupe_key=winner_key,
                created_by=seller.id,
                created_at=now,
                updated_at=now,
            )
            other.add(winner)
            other.flush()
            inserted.append(winner.id)

    from ticketing_app.db import get_engine

    engine = get_engine(db_url)
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite writers queue at BEGIN IMMEDIATE: no INSERT can race the check")
    sa.event.listen(engine, "before_cursor_execute", sneak_in)
    try:
        result = make_event(name="late show", venue="APOLLO")
    finally:
        sa.event.remove(engine, "before_cursor_execute", sneak_in)
    assert inserted and not result.created and result.event.id == inserted[0]
    assert count_events(db_url) == 1


BAD_EVENTS = [
    ({"name": ""}, "name", "Name is required"),
    ({"name": "   "}, "name", "Name is required"),
    ({"name": None}, "name", "Name is required"),
    ({"name": "x" * 121}, "name", "Name must be at most 120 characters"),
    ({"name": "a\x07b"}, "name", "Name must not contain control characters"),
    ({"venue": ""}, "venue", "Venue is required"),
    ({"venue": "v" * 121}, "venue", "Venue must be at most 120 characters"),
    ({"city": ""}, "city", "City is required"),
    ({"city": "c" * 81}, "city", "City must be at most 80 characters"),
    ({"starts_at": ""}, "startsAt", "Starts at is required"),
    ({"starts_at": None}, "startsAt", "Starts at is required"),
    ({"starts_at": 1700000000}, "startsAt", "Starts at is required"),
    (
        {"starts_at": "next friday"},
        "startsAt",
        "Starts at must be an ISO 8601 date and time, e.g. 2026-12-05T20:00:00Z",
    ),
    (
        {"starts_at": "2026-12-05T20:00:00"},
        "startsAt",
        "Starts at must include a time zone, e.g. 2026-12-05T20:00:00Z or +01:00",
    ),
    ({"starts_at": "2026-11-25T12:00:00Z"}, "startsAt", "Starts at must be in the future"),
    ({"starts_at": "2020-01-01T00:00:00Z"}, "startsAt", "Starts at must be in the future"),
    (
        {"starts_at": "2028-11-25T12:00:01Z"},
        "startsAt",
        "Starts at must be at most two years ahead",
    ),
]


def test_bad_events_are_refused_with_the_field(make_event, db_url, subtests):
    for change, field, message in BAD_EVENTS:
        with subtests.test(change=change):
            with pytest.raises(ValidationError) as info:
                make_event(**change)
            assert (info.value.field, info.value.message) == (field, message)
    assert count_events(db_url) == 0


def test_start_bounds(make_event, now):
    assert make_event(starts_at=now + timedelta(seconds=1)).created
    assert make_event(starts_at="2028-11-25T12:00:00Z").created  # exactly two years (+ leap day)


def test_list_upcoming_soonest_first_with_figures(
    make_event, list_for, new_session, make_user, now, rows
):
    later = make_event(name="Later", starts_at=START + timedelta(days=3)).event
    soon = make_event(name="Soon", starts_at=START).event
    empty = make_event(name="Empty", starts_at=START + timedelta(days=1)).event
    list_for(soon.id, price=80)
    cheapest = list_for(soon.id, price="35.50")
    list_for(later.id, price=99)
    sold = list_for(later.id, price=10)
    rows.execute(sa.update(Ticket).where(Ticket.id == sold.id).values(status="sold"))
    buyer = make_user()
    with new_session() as db:  # reserved tickets are not available
        orders.reserve_ticket(db.get_bind(), buyer_id=buyer.id, ticket_id=cheapest.id, now=now)
    list_for(None, price=1)  # no event

    with new_session() as db:
        page = events.list_events(db, now=now)
    assert [s.event.name for s in page.items] == ["Soon", "Empty", "Later"]
    assert [(s.tickets_available, s.lowest_price_cents) for s in page.items] == [
        (1, 8000),
        (0, None),
        (1, 9900),
    ]
    assert page.total == 3
    assert page.items[0].event.starts_at == START  # aware UTC from the Core rows
    assert empty.id == page.items[1].event.id


def test_list_leaves_out_started_and_cancelled(make_event, new_session, now, rows):
    make_event(name="Tonight", starts_at=now + timedelta(hours=2))
    gone = make_event(name="Called off").event
    rows.execute(sa.update(Event).where(Event.id == gone.id).values(status="cancelled"))
    with new_session() as db:
        assert [s.event.name for s in events.list_events(db, now=now).items] == ["Tonight"]
        later = now + timedelta(hours=3)
        assert events.list_events(db, now=later).items == []


def test_search_matches_name_venue_or_city_case_insensitively(make_event, new_session, now):
    make_event(name="Coldplay", venue="Stade de France", city="Paris")
    make_event(name="Adele", venue="Wembley", city="London")
    make_event(name="Muse", venue="Olympia", city="Paris", starts_at=START + timedelta(days=1))
    make_event(name="100% Jazz", venue="Blue_Note", city="New York")

    def names(**filters: Any) -> list[str]:
        with new_session() as db:
            return [s.event.name for s in events.list_events(db, now=now, **filters).items]

    assert names(q="COLD") == ["Coldplay"]
    assert names(q="wemb") == ["Adele"]
    assert names(q="paris") == ["Coldplay", "Muse"]
    assert names(q="  stade   de ") == ["Coldplay"]
    assert names(q="%") == ["100% Jazz"]  # LIKE wildcards are literal
    assert names(q="_") == ["100% Jazz"]
    assert names(q="nothing like it") == []
    assert names(city="PARIS") == ["Coldplay", "Muse"]
    assert names(city="par") == []  # the city filter is the whole name
    assert names(city=" new   york ") == ["100% Jazz"]
    assert names(q="o", city="London") == ["Adele"]


def test_time_window_and_paging(make_event, new_session, now):
    for day in range(5):
        make_event(name=f"Day {day}", starts_at=START + timedelta(days=day))

    def names(**filters: Any) -> list[str]:
        with new_session() as db:
            return [s.event.name for s in events.list_events(db, now=now, **filters).items]

    assert names(starts_from="2026-12-06T20:00:00Z") == ["Day 1", "Day 2", "Day 3", "Day 4"]
    assert names(starts_before="2026-12-07T20:00:00Z") == ["Day 0", "Day 1"]
    assert names(starts_from="2026-12-06", starts_before="2026-12-08") == ["Day 1", "Day 2"]
    assert names(limit=2) == ["Day 0", "Day 1"]
    assert names(limit=2, offset=3) == ["Day 3", "Day 4"]
    with new_session() as db:
        assert events.list_events(db, now=now, limit=2).total == 5
    with pytest.raises(ValidationError) as info, new_session() as db:
        events.list_events(db, now=now, starts_from="soon")
    assert info.value.field == "from"
    with pytest.raises(ValidationError) as info, new_session() as db:
        events.list_events(db, now=now, starts_before="2026-12-08T00:00:00")
    assert info.value.field == "to"
    for limit, offset, field in ((0, 0, "limit"), (201, 0, "limit"), (10, -1, "offset")):
        with pytest.raises(ValidationError) as info, new_session() as db:
            events.list_events(db, now=now, limit=limit, offset=offset)
        assert info.value.field == field


def test_get_event_and_its_tickets_cheapest_first(make_event, list_for, new_session, rows):
    event = make_event().event
    other = make_event(name="Other").event
    prices = [70, 45, "45", 120, 60]
    listed = [list_for(event.id, price=p) for p in prices]
    list_for(other.id, price=1)
    rows.execute(sa.update(Ticket).where(Ticket.id == listed[3].id).values(status="sold"))
    with new_session() as db:
        summary = events.get_event(db, event.id.upper())
    assert (summary.event.id, summary.tickets_available, summary.lowest_price_cents) == (
        event.id,
        4,
        4500,
    )
    with new_session() as db:
        found, items = events.event_tickets(db, event.id)
    found = found.event
    assert found.id == event.id
    assert [t.price_cents for t in items] == [4500, 4500, 6000, 7000]
    ties = sorted([listed[1].id, listed[2].id])
    assert [t.id for t in items[:2]] == ties  # equal prices in a stable order
    with new_session() as db:
        _, page = events.event_tickets(db, event.id, limit=2, offset=2)
    assert [t.price_cents for t in page] == [6000, 7000]


@pytest.mark.parametrize("bad", ["not-a-uuid", "", "00000000-0000-4000-8000-000000000000", None])
def test_unknown_event_is_not_found(new_session, bad):
    with pytest.raises(NotFound) as info, new_session() as db:
        events.get_event(db, bad)
    assert info.value.message == "Event not found"
    with pytest.raises(NotFound), new_session() as db:
        events.event_tickets(db, bad)


def test_local_time_from_the_browser_becomes_utc():
    # Paris is UTC+1 in December, UTC+2 in July (DST of the event's date, not today's).
    assert events.local_to_utc("2026-12-05T20:00", "Europe/Paris") == "2026-12-05T19:00:00.000Z"
    assert events.local_to_utc("2027-07-05T20:00", "Europe/Paris") == "2027-07-05T18:00:00.000Z"
    assert events.local_to_utc("2026-12-05T20:00", "Nowhere/Else") == "2026-12-05T20:00:00.000Z"
    assert events.local_to_utc("", "Europe/Paris") == ""
    assert events.local_to_utc("garbage", "Europe/Paris") == "garbage"
