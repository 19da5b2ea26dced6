"""Listings (SPEC §3 Ticket, rules 1–2): validation, seller-only changes, search and paging."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ticketing_app.db import read_session
from ticketing_app.errors import Forbidden, NotFound, RuleViolation, ValidationError
from ticketing_app.models import Ticket
from ticketing_app.services import tickets


def test_create_ticket_trims_title_and_stores_cents(make_ticket, seller, now, rows):
    ticket = make_ticket(title="  Radiohead   live  ", price="19.99")
    stored = rows.ticket(ticket.id)
    assert (stored.title, stored.price_cents, stored.status) == (
        "Radiohead live",
        1999,
        "available",
    )
    assert (stored.user_id, stored.order_id, stored.version) == (seller.id, None, 1)
    assert stored.created_at == stored.updated_at == now
    uuid.UUID(ticket.id, version=4)


GOOD_PRICES = [
    (20, 2000),
    ("20", 2000),
    (19.99, 1999),
    ("19.99", 1999),
    (" 19.9 ", 1990),
    (Decimal("0.01"), 1),
    (0.01, 1),
    (1_000_000, 100_000_000),
    ("1000000.00", 100_000_000),
    (12.10, 1210),
]


def test_price_accepted_as_decimal_major_units(make_ticket, rows, subtests):
    for price, cents in GOOD_PRICES:
        with subtests.test(price=price):
            assert rows.ticket(make_ticket(price=price).id).price_cents == cents


BAD_PRICES = [
    (0, "Price must be greater than 0"),
    (-5, "Price must be greater than 0"),
    ("0.00", "Price must be greater than 0"),
    (1_000_000.01, "Price must be at most 1,000,000"),
    (10**12, "Price must be at most 1,000,000"),
    (19.999, "Price must have at most 2 decimal places"),
    ("0.001", "Price must have at most 2 decimal places"),
    (math.nan, "Price must be a number"),
    (math.inf, "Price must be a number"),
    (-math.inf, "Price must be a number"),
    ("NaN", "Price must be a number"),
    ("Infinity", "Price must be a number"),
    (True, "Price must be a number"),
    (False, "Price must be a number"),
    (None, "Price must be a number"),
    ("twenty", "Price must be a number"),
    ("19,99", "Price must be a number"),
    ("", "Price is required"),
    ("   ", "Price is required"),
    ([20], "Price must be a number"),
    ({"amount": 20}, "Price must be a number"),
    # Decimal() and float() read these as numbers; a price is written 0-9 and one ".".
    ("\u0661\u0662", "Price must be written with the digits 0-9"),  # Arabic-Indic 12
    ("\uff15", "Price must be written with the digits 0-9"),  # fullwidth 5
    ("\u09e7\u09e8.50", "Price must be written with the digits 0-9"),  # Bengali
    ("1_000", "Price must be written with the digits 0-9"),
    ("1e3", "Price must be a number"),
    ("+5", "Price must be a number"),
    ("5..0", "Price must be a number"),
    ("0x10", "Price must be a number"),
]


def test_create_rejects_bad_price(new_session, seller, now, event_count, subtests):
    for price, message in BAD_PRICES:
        with subtests.test(price=price):
            with new_session() as db, pytest.raises(ValidationError) as err:
                tickets.create_ticket(db, seller_id=seller.id, title="Gig", price=price, now=now)
            assert (err.value.message, err.value.field, err.value.status) == (
                message,
                "price",
                400,
            )
    assert event_count() == 1  # only the seller's UserCreated


VISIBLE = "Title must contain visible letters, digits or symbols"
BAD_TITLES = [
    ("", "Title is required"),
    ("   \t\n ", "Title is required"),
    (None, "Title is required"),
    (123, "Title is required"),
    ("x" * 121, "Title must be at most 120 characters"),
    ("nul\x00byte", "Title must not contain control characters"),
    ("bell\x07", "Title must not contain control characters"),
    ("lone \ud800 surrogate", "Title must not contain control characters"),
    ("c1 \x9b control", "Title must not contain control characters"),
    ("\u202egnp.exe", "Title must not contain text-direction control characters"),  # "exe.png"
    ("Gig \u202dtwo", "Title must not contain text-direction control characters"),
    ("Gig \u2067isolate\u2069", "Title must not contain text-direction control characters"),
    ("Gig \u200f mark", "Title must not contain text-direction control characters"),
    ("\u200b", VISIBLE),  # zero-width space
    ("\ufeff\u200b\u2060", VISIBLE),  # BOM, word joiner
    ("\U000e0041\U000e0042", VISIBLE),  # tag characters
    ("\u00ad", VISIBLE),  # soft hyphen
    ("\u3164\u3164", VISIBLE),  # Hangul filler: a letter that renders blank
    ("\u2800", VISIBLE),  # blank Braille pattern
    ("\u200d", VISIBLE),  # a lone zero-width joiner
    ("\u0301\u0301", VISIBLE),  # combining marks with nothing to sit on
]


def test_create_rejects_bad_title(new_session, seller, now, event_count, subtests):
    for title, message in BAD_TITLES:
        with subtests.test(title=title):
            with new_session() as db, pytest.raises(ValidationError) as err:
                tickets.create_ticket(db, seller_id=seller.id, title=title, price=20, now=now)
            assert (err.value.message, err.value.field) == (message, "title")
    assert event_count() == 1


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Caf\u0065\u0301 concert", "Caf\u00e9 concert"),  # NFC: one way to write "é"
        ("Radio\u200bhead", "Radiohead"),  # invisible characters removed
        ("\ufeffOpera\u00ad night", "Opera night"),
        ("Ende\U000e0041\U000e007f", "Ende"),
        ("東京ドーム 公演", "東京ドーム 公演"),  # non-Latin text as written (no NFKC)
        ("ｶﾗｵｹ Ｎight", "ｶﾗｵｹ Ｎight"),  # compatibility forms too: a title is shown, not matched
        ("می\u200cخواهم", "می\u200cخواهم"),  # Persian needs its zero-width non-joiner
        ("Family \U0001f468\u200d\U0001f469\u200d\U0001f467", "Family 👨\u200d👩\u200d👧"),
        ("tab\tand\nnewline", "tab and newline"),
    ],
)
def test_titles_are_stored_as_they_will_be_seen(make_ticket, rows, given, stored):
    assert rows.ticket(make_ticket(title=given).id).title == stored


def test_title_length_counts_after_trimming(make_ticket):
    assert make_ticket(title="  " + "x" * 120 + "  ").title == "x" * 120
    assert make_ticket(title="y").title == "y"


def edit(new_session, user, ticket_id, now, title="New title", price=30):
    with new_session() as db:
        return tickets.update_ticket(
            db, user_id=user.id, ticket_id=ticket_id, title=title, price=price, now=now
        )


def cancel(new_session, user, ticket_id, now):
    with new_session() as db:
        return tickets.cancel_ticket(db, user_id=user.id, ticket_id=ticket_id, now=now)


def test_seller_edits_title_and_price(new_session, make_ticket, seller, now, rows):
    ticket = make_ticket()
    later = now + timedelta(minutes=5)
    edited = edit(new_session, seller, ticket.id, later, title=" Better  seat ", price="45.50")
    stored = rows.ticket(ticket.id)
    assert (stored.title, stored.price_cents, stored.version) == ("Better seat", 4550, 2)
    assert stored.updated_at == later and stored.created_at == now
    assert edited.version == 2 and edited.price_cents == 4550


def test_edit_rejects_bad_price(new_session, make_ticket, seller, now, rows, subtests):
    ticket = make_ticket()
    for price, message in BAD_PRICES:
        with subtests.test(price=price):
            with pytest.raises(ValidationError) as err:
                edit(new_session, seller, ticket.id, now, price=price)
            assert (err.value.message, err.value.field) == (message, "price")
    assert rows.ticket(ticket.id).version == 1


def test_edit_rejects_bad_title(new_session, make_ticket, seller, now, rows, subtests):
    ticket = make_ticket()
    for title, message in BAD_TITLES:
        with subtests.test(title=title):
            with pytest.raises(ValidationError) as err:
                edit(new_session, seller, ticket.id, now, title=title)
            assert (err.value.message, err.value.field) == (message, "title")
    assert rows.ticket(ticket.id).version == 1


def test_only_the_seller_edits_or_cancels(new_session, make_ticket, buyer, now, rows):
    ticket = make_ticket()
    with pytest.raises(Forbidden) as err:
        edit(new_session, buyer, ticket.id, now)
    assert err.value.status == 403
    with pytest.raises(Forbidden):
        cancel(new_session, buyer, ticket.id, now)
    stored = rows.ticket(ticket.id)
    assert (stored.title, stored.status, stored.version) == ("Concert", "available", 1)


def test_edit_answers_not_found_and_forbidden_before_bad_input(
    new_session, make_ticket, seller, buyer, now, rows, stored_events
):
    """404, then 403, then the field errors (docs/api.md): a stranger learns nothing more."""
    ticket = make_ticket()
    before = len(stored_events())
    with pytest.raises(Forbidden):
        edit(new_session, buyer, ticket.id, now, title="", price=-1)
    for unknown in (str(uuid.uuid4()), "garbage", None):
        with pytest.raises(NotFound):
            edit(new_session, seller, unknown, now, title="", price=-1)
    with pytest.raises(ValidationError) as err:  # the seller hears what is wrong
        edit(new_session, seller, ticket.id, now, title="", price=-1)
    assert err.value.field == "title"
    with new_session() as db:
        tickets.check_owner(db, user_id=seller.id, ticket_id=ticket.id)
        with pytest.raises(Forbidden):
            tickets.check_owner(db, user_id=buyer.id, ticket_id=ticket.id)
        with pytest.raises(NotFound):
            tickets.check_owner(db, user_id=seller.id, ticket_id=str(uuid.uuid4()))
    assert rows.ticket(ticket.id).version == 1 and len(stored_events()) == before


def test_reserved_ticket_still_reports_field_errors_to_the_seller(
    new_session, make_ticket, seller, buyer, reserve, now
):
    ticket = make_ticket()
    reserve(buyer, ticket.id)
    with pytest.raises(ValidationError) as err:
        edit(new_session, seller, ticket.id, now, price="abc")
    assert (err.value.message, err.value.field) == ("Price must be a number", "price")


def test_reserved_ticket_cannot_be_edited_or_cancelled(
    new_session, make_ticket, seller, buyer, reserve, now, rows
):
    ticket = make_ticket()
    reserve(buyer, ticket.id)
    with pytest.raises(RuleViolation) as err:
        edit(new_session, seller, ticket.id, now)
    assert (err.value.message, err.value.status) == ("Cannot edit a reserved ticket", 400)
    with pytest.raises(RuleViolation, match="^Cannot cancel a reserved ticket$"):
        cancel(new_session, seller, ticket.id, now)
    assert rows.ticket(ticket.id).price_cents == 2000


def test_sold_ticket_cannot_be_edited_or_cancelled(new_session, make_ticket, seller, now, rows):
    ticket = make_ticket()
    rows.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(status="sold"))
    with pytest.raises(RuleViolation, match="^Cannot edit a sold ticket$"):
        edit(new_session, seller, ticket.id, now)
    with pytest.raises(RuleViolation, match="^Cannot cancel a sold ticket$"):
        cancel(new_session, seller, ticket.id, now)


def test_seller_cancels_listing_once(new_session, make_ticket, seller, now, rows, stored_events):
    ticket = make_ticket()
    before = len(stored_events())
    cancelled = cancel(new_session, seller, ticket.id, now)
    assert cancelled.status == "cancelled" and cancelled.version == 2
    assert rows.ticket(ticket.id).status == "cancelled"
    with pytest.raises(RuleViolation, match="^Cannot cancel a cancelled ticket$"):
        cancel(new_session, seller, ticket.id, now)
    with pytest.raises(RuleViolation, match="^Cannot edit a cancelled ticket$"):
        edit(new_session, seller, ticket.id, now)
    events = stored_events(before)
    assert [(e.type, e.aggregate_id, e.aggregate_version) for e in events] == [
        ("TicketCancelled", ticket.id, 2)
    ]
    assert events[0].payload["status"] == "cancelled"


def test_create_and_edit_write_ticket_events(new_session, make_ticket, seller, now, stored_events):
    before = len(stored_events())
    ticket = make_ticket()
    edit(new_session, seller, ticket.id, now, price="25.50")
    edit(new_session, seller, ticket.id, now, title="Again")
    events = stored_events(before)
    assert [(e.type, e.aggregate_type, e.aggregate_id, e.aggregate_version) for e in events] == [
        ("TicketCreated", "ticket", ticket.id, 1),
        ("TicketUpdated", "ticket", ticket.id, 2),
        ("TicketUpdated", "ticket", ticket.id, 3),
    ]
    assert events[1].payload["price"] == 25.5 and events[2].payload["title"] == "Again"


MISSING_IDS = [str(uuid.uuid4()), "not-a-uuid", "", None, 42, "1" * 36, "../etc/passwd"]


def test_unknown_or_malformed_ticket_id_is_not_found(
    new_session, db_url, seller, now, make_ticket, subtests
):
    make_ticket()
    for ticket_id in MISSING_IDS:
        with subtests.test(ticket_id=ticket_id):
            with read_session(db_url) as db, pytest.raises(NotFound) as err:
                tickets.get_ticket(db, ticket_id)
            assert (err.value.message, err.value.status) == ("Ticket not found", 404)
            with pytest.raises(NotFound):
                edit(new_session, seller, ticket_id, now)
            with pytest.raises(NotFound):
                cancel(new_session, seller, ticket_id, now)


def test_get_ticket_accepts_upper_case_id(db_url, make_ticket):
    ticket = make_ticket()
    with read_session(db_url) as db:
        assert tickets.get_ticket(db, ticket.id.upper()).id == ticket.id


def listing(db_url, **kwargs):
    with read_session(db_url) as db:
        page = tickets.list_tickets(db, **kwargs)
    return [t.title for t in page.items], page.total


def test_list_newest_first_available_only_by_default(
    db_url, make_ticket, make_user, seller, buyer, reserve, now, new_session
):
    made = [make_ticket(title=f"T{i}", at=now + timedelta(seconds=i)) for i in range(5)]
    reserve(buyer, made[1].id)
    cancel(new_session, seller, made[3].id, now)
    assert listing(db_url) == (["T4", "T2", "T0"], 3)
    assert listing(db_url, status="reserved") == (["T1"], 1)
    assert listing(db_url, status="cancelled") == (["T3"], 1)
    assert listing(db_url, status="sold") == ([], 0)
    assert listing(db_url, status="all") == (["T4", "T3", "T2", "T1", "T0"], 5)
    other = make_user()
    make_ticket(title="Theirs", owner=other, at=now + timedelta(seconds=9))
    assert listing(db_url, status="all", seller_id=other.id) == (["Theirs"], 1)


def test_list_search_is_case_insensitive_and_literal(db_url, make_ticket, now):
    for i, title in enumerate(["100% Fun", "100 fun", "a_b night", "axb night", "Back\\slash"]):
        make_ticket(title=title, at=now + timedelta(seconds=i))
    assert listing(db_url, q="FUN") == (["100 fun", "100% Fun"], 2)
    assert listing(db_url, q="%") == (["100% Fun"], 1)
    assert listing(db_url, q="0% f") == (["100% Fun"], 1)
    assert listing(db_url, q="_") == (["a_b night"], 1)
    assert listing(db_url, q="a_b") == (["a_b night"], 1)
    assert listing(db_url, q="\\") == (["Back\\slash"], 1)
    assert listing(db_url, q="  night ") == (["axb night", "a_b night"], 2)
    assert listing(db_url, q="nothing like it") == ([], 0)
    assert listing(db_url, q="fu\x00n") == (["100 fun", "100% Fun"], 2)  # NUL is dropped
    assert listing(db_url, q="   ")[1] == 5


def test_list_sort_by_price_and_paging(db_url, make_ticket, now):
    for i, price in enumerate([30, 10, 20, 10, 50]):
        make_ticket(title=f"P{i}", price=price, at=now + timedelta(seconds=i))
    assert listing(db_url, sort="price_asc") == (["P3", "P1", "P2", "P0", "P4"], 5)
    assert listing(db_url, sort="price_desc") == (["P4", "P0", "P2", "P3", "P1"], 5)
    assert listing(db_url, limit=2) == (["P4", "P3"], 5)
    assert listing(db_url, limit=2, offset=2) == (["P2", "P1"], 5)
    assert listing(db_url, limit=2, offset=4) == (["P0"], 5)
    assert listing(db_url, limit=2, offset=10) == ([], 5)
    assert listing(db_url, sort="price_asc", limit=2, offset=1) == (["P1", "P2"], 5)
    assert listing(db_url, limit=200)[1] == 5


BAD_LIST_PARAMETERS = [
    ({"status": "bogus"}, "status"),
    ({"status": ""}, "status"),
    ({"sort": "cheapest"}, "sort"),
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"offset": -1}, "offset"),
    ({"offset": 1_000_001}, "offset"),
]


def test_list_rejects_bad_parameters(db_url, subtests):
    for kwargs, field in BAD_LIST_PARAMETERS:
        with subtests.test(**kwargs):
            with read_session(db_url) as db, pytest.raises(ValidationError) as err:
                tickets.list_tickets(db, **kwargs)
            assert err.value.field == field
