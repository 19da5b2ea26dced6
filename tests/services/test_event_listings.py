"""Fair listings (SPEC §9): a ticket names its event and face value; the price cap; no listing
for a started or cancelled event; at the start the event's unsold listings leave the market."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from ticketing_app.errors import RuleViolation, ValidationError
from ticketing_app.models import Event, Ticket, User
from ticketing_app.services import event_start, events, orders, tickets
from ticketing_app.settings import reset_settings

START = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # `now` is 2026-11-25 12:00 UTC


@pytest.fixture
def event(new_session: Callable[[], Session], seller: User, now: datetime) -> Event:
    return make_event(new_session, seller, now)


def make_event(new_session, seller, now, name="Radiohead", starts_at=START) -> Event:
    with new_session() as db:
        return events.create_event(
            db,
            user_id=seller.id,
            name=name,
            venue="Olympia",
            city="Paris",
            starts_at=starts_at.isoformat(),
            now=now,
        ).event


@pytest.fixture
def list_ticket(new_session, seller, now) -> Callable[..., Ticket]:
    def make(event_id: Any = None, price: Any = 50, face_value: Any = None, at=None) -> Ticket:
        with new_session() as db:
            return tickets.create_ticket(
                db,
                seller_id=seller.id,
                title="Seat",
                price=price,
                event_id=event_id,
                face_value=face_value,
                now=at or now,
            )

    return make


@pytest.fixture
def edit(new_session, seller, now) -> Callable[..., Ticket]:
    def change(ticket: Ticket, **fields: Any) -> Ticket:
        fields.setdefault("title", ticket.title)
        fields.setdefault("price", str(ticket.price_cents / 100))
        with new_session() as db:
            return tickets.update_ticket(
                db, user_id=seller.id, ticket_id=ticket.id, now=now, **fields
            )

    return change


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    def set_cap(percent: int) -> None:
        monkeypatch.setenv("TICKETING_PRICE_CAP_PERCENT", str(percent))
        reset_settings()

    yield set_cap
    monkeypatch.undo()
    reset_settings()


def test_ticket_names_its_event_and_face_value(list_ticket, event, rows, stored_events):
    ticket = list_ticket(event.id.upper(), price="110", face_value="99.50")
    stored = rows.ticket(ticket.id)
    assert (stored.event_id, stored.face_value_cents, stored.price_cents) == (
        event.id,
        9950,
        11000,
    )
    created = [e for e in stored_events() if e.type == "TicketCreated"][-1]
    assert created.payload["eventId"] == event.id and created.payload["faceValue"] == 99.5
    assert created.payload["hasFile"] is False


def test_both_stay_optional(list_ticket, rows):
    stored = rows.ticket(list_ticket(None, face_value="").id)
    assert (stored.event_id, stored.face_value_cents) == (None, None)
    assert rows.ticket(list_ticket("", face_value=None).id).event_id is None


@pytest.mark.parametrize(
    "event_id", ["00000000-0000-4000-8000-000000000000", "not-an-id", 42, ["x"]]
)
def test_unknown_event_is_a_400_on_event_id(list_ticket, event_count, event_id):
    before = event_count()
    with pytest.raises(ValidationError) as info:
        list_ticket(event_id)
    assert (info.value.status, info.value.field, info.value.message) == (
        400,
        "eventId",
        "No such event",
    )
    assert event_count() == before


def test_no_listing_for_a_started_or_cancelled_event(list_ticket, event, rows, now):
    with pytest.raises(RuleViolation) as info:
        list_ticket(event.id, at=START)
    assert (info.value.field, info.value.message) == ("eventId", "This event has already started")
    rows.execute(sa.update(Event).where(Event.id == event.id).values(status="cancelled"))
    with pytest.raises(RuleViolation) as info:
        list_ticket(event.id)
    assert (info.value.field, info.value.message) == ("eventId", "This event was cancelled")


BAD_FACE_VALUES = [
    (0, "Face value must be greater than 0"),
    ("-1", "Face value must be greater than 0"),
    ("1.001", "Face value must have at most 2 decimal places"),
    ("lots", "Face value must be a number"),
    (1_000_000.01, "Face value must be at most 1,000,000"),
    (True, "Face value must be a number"),
]


def test_face_value_follows_the_price_rules(list_ticket, subtests):
    for value, message in BAD_FACE_VALUES:
        with subtests.test(value=value):
            with pytest.raises(ValidationError) as info:
                list_ticket(face_value=value)
            assert (info.value.field, info.value.message) == ("faceValue", message)


def test_price_cap_boundary_is_exactly_120_percent(list_ticket, rows):
    assert rows.ticket(list_ticket(price="120", face_value="100").id).price_cents == 12000
    with pytest.raises(ValidationError) as info:
        list_ticket(price="120.01", face_value="100")
    assert (info.value.field, info.value.message) == (
        "price",
        "Price must be at most 120.00 (120% of the face value 100.00)",
    )
    # 120 % of 10.01 is 12.012: the highest price in cents is 12.01.
    assert list_ticket(price="12.01", face_value="10.01")
    with pytest.raises(ValidationError) as info:
        list_ticket(price="12.02", face_value="10.01")
    assert "at most 12.01" in info.value.message


def test_cap_setting_changes_or_turns_off_the_cap(list_ticket, cap):
    cap(100)
    assert list_ticket(price="100", face_value="100")
    with pytest.raises(ValidationError, match=r"at most 100\.00 \(100% of the face value"):
        list_ticket(price="100.01", face_value="100")
    cap(0)
    assert list_ticket(price="999", face_value="10")


def test_no_face_value_no_cap(list_ticket):
    assert list_ticket(price="1000000", face_value=None)


def test_edit_keeps_event_and_face_value_unless_given(list_ticket, edit, event, rows):
    ticket = list_ticket(event.id, price=100, face_value=100)
    edited = edit(ticket, title="Row A", price="110")  # SPEC §4's {title, price}
    assert (edited.event_id, edited.face_value_cents, edited.price_cents) == (
        event.id,
        10000,
        11000,
    )
    with pytest.raises(ValidationError, match="at most 120.00"):
        edit(ticket, price="130")
    cleared = edit(ticket, price="130", face_value=None)
    assert (cleared.face_value_cents, cleared.price_cents) == (None, 13000)
    assert edit(ticket, event_id=None).event_id is None
    with pytest.raises(ValidationError) as info:
        edit(ticket, event_id="00000000-0000-4000-8000-000000000000")
    assert info.value.field == "eventId"
    assert rows.ticket(ticket.id).event_id is None


def test_edit_refuses_a_started_event(new_session, seller, now, list_ticket, edit, rows):
    soon = make_event(new_session, seller, now, name="Soon", starts_at=now + timedelta(hours=1))
    ticket = list_ticket(None)
    assert edit(ticket, event_id=soon.id).event_id == soon.id
    rows.execute(sa.update(Event).where(Event.id == soon.id).values(starts_at=now))
    with pytest.raises(RuleViolation, match="already started"):
        edit(ticket, price="60")
    assert rows.ticket(ticket.id).price_cents == 5000


def test_withdrawal_at_start(new_session, seller, now, list_ticket, make_user, rows, stored_events):
    event = make_event(new_session, seller, now, starts_at=now + timedelta(hours=1))
    later = make_event(new_session, seller, now, name="Later", starts_at=now + timedelta(days=1))
    for_sale = [list_ticket(event.id, price=p) for p in (40, 50)]
    held = list_ticket(event.id, price=60)
    sold = list_ticket(event.id, price=70)
    other = list_ticket(later.id)
    plain = list_ticket(None)
    rows.execute(sa.update(Ticket).where(Ticket.id == sold.id).values(status="sold"))
    buyer = make_user()
    with new_session() as db:
        orders.reserve_ticket(db.get_bind(), buyer_id=buyer.id, ticket_id=held.id, now=now)

    before_start = event.starts_at - timedelta(milliseconds=1)
    with new_session() as db:
        assert event_start.withdraw_started_listings(db, now=before_start) == []
    seen = len(stored_events())
    with new_session() as db:
        withdrawn = event_start.withdraw_started_listings(db, now=event.starts_at)
    assert sorted(withdrawn) == sorted(t.id for t in for_sale)
    for t in for_sale:
        row = rows.ticket(t.id)
        assert (row.status, row.withdrawn_reason, row.version) == (
            "cancelled",
            event_start.STARTED_REASON,
            2,
        )
    assert rows.ticket(held.id).status == "reserved"  # its hold runs out, then the sweep
    assert rows.ticket(sold.id).status == "sold"
    assert rows.ticket(other.id).status == rows.ticket(plain.id).status == "available"
    news = stored_events(seen)
    assert sorted((e.type, e.aggregate_id) for e in news) == sorted(
        ("TicketCancelled", t.id) for t in for_sale
    )
    assert all(e.payload["withdrawnReason"] == event_start.STARTED_REASON for e in news)
    with new_session() as db:  # idempotent
        assert event_start.withdraw_started_listings(db, now=event.starts_at) == []
    assert len(stored_events()) == seen + 2


def test_withdrawal_runs_in_batches(new_session, seller, now, list_ticket):
    event = make_event(new_session, seller, now, starts_at=now + timedelta(hours=1))
    listed = {list_ticket(event.id).id for _ in range(5)}
    done: set[str] = set()
    while True:
        with new_session() as db:
            batch = event_start.withdraw_started_listings(db, now=event.starts_at, limit=2)
        if not batch:
            break
        assert len(batch) <= 2
        done |= set(batch)
    assert done == listed


def test_next_event_start(new_session, seller, now, rows):
    with new_session() as db:
        assert event_start.next_event_start(db, after=now) is None
    first = make_event(new_session, seller, now, name="A", starts_at=now + timedelta(hours=1))
    second = make_event(new_session, seller, now, name="B", starts_at=now + timedelta(hours=2))
    with new_session() as db:
        assert event_start.next_event_start(db, after=now) == first.starts_at
        assert event_start.next_event_start(db, after=first.starts_at) == second.starts_at
        assert event_start.next_event_start(db, after=second.starts_at) is None
    rows.execute(sa.update(Event).where(Event.id == first.id).values(status="cancelled"))
    with new_session() as db:
        assert event_start.next_event_start(db, after=now) == second.starts_at


def test_the_seller_sees_why_a_listing_left_the_market(new_session, seller, now, list_ticket):
    from ticketing_app.services import listings
    from ticketing_app.state.cards import ticket_card
    from ticketing_app.state.listings import _row

    event = make_event(new_session, seller, now, starts_at=now + timedelta(hours=1))
    ticket = list_ticket(event.id)
    with new_session() as db:
        event_start.withdraw_started_listings(db, now=event.starts_at)
    with new_session() as db:
        (listing,) = listings.seller_listings(db, seller_id=seller.id)
    row = _row(ticket_card(listing.ticket), listing.hold_expires_at)
    assert (row["id"], row["statusText"], row["note"]) == (
        ticket.id,
        "Withdrawn",
        "The event started, so this listing left the market",
    )
