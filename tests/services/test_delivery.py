"""SPEC §10 in the services: attaching the ticket file, the one access rule, the e-ticket code
(issued by transitions.complete, revoked by a refund or a resale) and its verification.
On SQLite and PostgreSQL. The payment itself is tests/delivery/ (localstripe); here an order is
completed by the one state change that payments use, transitions.complete."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.delivery.sample_files import HTML, jpeg, oversized_pdf, pdf, png, truncated_png
from ticketing_app.errors import DomainError, Forbidden, NotAuthenticated, NotFound
from ticketing_app.models import Charge, ChargeStatus, Order, Ticket, TicketFile, TicketStatus
from ticketing_app.services import delivery, files, transitions
from ticketing_app.services.views import order_view, ticket_view


@pytest.fixture
def attach(new_session: Callable[[], Session], now: datetime) -> Callable[..., Ticket]:
    def run(user_id: str, ticket_id: str, data: bytes, name: str = "ticket.pdf") -> Ticket:
        with new_session() as db:
            return delivery.attach_ticket_file(
                db, user_id=user_id, ticket_id=ticket_id, data=data, filename=name, now=now
            )

    return run


@pytest.fixture
def complete(new_session: Callable[[], Session], now: datetime) -> Callable[[str], Order]:
    def run(order_id: str) -> Order:
        with new_session() as db, db.begin():
            done = transitions.complete(
                db.connection(), order_id=order_id, payment_intent_id=f"pi_{uuid.uuid4().hex}",
                now=now,
            )  # fmt: skip
        return done.order

    return run


def read(new_session, user_id, ticket_id) -> files.StoredFile:
    with new_session() as db:
        return delivery.readable_file(db, user_id=user_id, ticket_id=ticket_id)


def refused(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def stored_rows(new_session) -> list[TicketFile]:
    with new_session() as db:
        return list(db.exec(select(TicketFile)))


def test_seller_attaches_then_replaces_while_available(
    new_session, make_ticket, seller, attach, stored_events
) -> None:
    ticket = make_ticket()
    first = attach(seller.id, ticket.id, pdf(), "My Ticket.pdf")
    assert first.has_file and ticket_view(first)["hasFile"] is True
    assert first.version == ticket.version + 1
    got = read(new_session, seller.id, ticket.id)
    assert (got.data, got.meta.content_type, got.meta.filename) == (
        pdf(),
        "application/pdf",
        "My Ticket.pdf",
    )
    attach(seller.id, ticket.id, png(), "scan.png")
    got = read(new_session, seller.id, ticket.id)
    assert (got.data, got.meta.content_type) == (png(), "image/png")
    assert len(stored_rows(new_session)) == 1
    attached = [e for e in stored_events() if e.type == "TicketFileAttached"]
    assert [(e.payload["replaced"], e.payload["afterSale"]) for e in attached] == [
        (False, False),
        (True, False),
    ]
    assert attached[-1].payload["hasFile"] is True


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (HTML, "ticket.pdf", files.WRONG_TYPE),
        (b"", "ticket.pdf", files.EMPTY_FILE),
        (truncated_png(), "ticket.png", "The file is not a complete PNG (damaged or cut short?)"),
        (jpeg()[:-40], "ticket.jpg", "The file is not a complete JPEG (damaged or cut short?)"),
        (pdf()[:-200], "ticket.pdf", "The file is not a complete PDF (damaged or cut short?)"),
        (oversized_pdf(files.MAX_FILE_BYTES), "big.pdf", files.TOO_LARGE),
    ],
    ids=["html-named-pdf", "empty", "truncated-png", "truncated-jpeg", "truncated-pdf", "5mb+1"],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    new_session, make_ticket, seller, attach, rows, stored_events, data, name, message
) -> None:
    ticket = make_ticket()
    before = len(stored_events())
    error = refused(lambda: attach(seller.id, ticket.id, data, name))
    assert (error.status, error.message, error.field) == (400, message, "file")
    assert stored_rows(new_session) == []
    assert rows.ticket(ticket.id).has_file is False
    assert rows.ticket(ticket.id).version == ticket.version
    assert len(stored_events()) == before


def test_type_comes_from_the_bytes_not_the_name(new_session, make_ticket, seller, attach) -> None:
    ticket = make_ticket()
    attach(seller.id, ticket.id, pdf(), "ticket.png")
    got = read(new_session, seller.id, ticket.id)
    assert (got.meta.content_type, got.meta.filename) == ("application/pdf", "ticket.pdf")
    attach(seller.id, ticket.id, jpeg(), "../../etc/x.pdf")
    assert read(new_session, seller.id, ticket.id).meta.filename == "x.jpg"


def test_only_the_seller_attaches(make_ticket, make_user, seller, attach) -> None:
    ticket = make_ticket()
    assert refused(lambda: attach(make_user().id, ticket.id, pdf())).status == 403
    assert refused(lambda: attach(seller.id, str(uuid.uuid4()), pdf())).status == 404
    # 403 before the file's own 400: a stranger learns nothing from what they sent
    assert refused(lambda: attach(make_user().id, ticket.id, HTML)).status == 403


def test_frozen_after_the_sale_unless_nothing_was_attached(
    new_session, make_ticket, seller, buyer, reserve, complete, attach, stored_events
) -> None:
    with_file = make_ticket("With file")
    attach(seller.id, with_file.id, pdf())
    held = reserve(buyer, with_file.id).order
    assert refused(lambda: attach(seller.id, with_file.id, png())).message == (
        delivery.FROZEN_RESERVED
    )
    complete(held.id)
    assert refused(lambda: attach(seller.id, with_file.id, png())).message == delivery.FROZEN
    assert read(new_session, buyer.id, with_file.id).data == pdf()

    without = make_ticket("Without file")
    order = reserve(buyer, without.id).order
    complete(order.id)
    late = attach(seller.id, without.id, png(), "late.png")
    assert late.status == TicketStatus.SOLD and late.has_file
    event = [e for e in stored_events() if e.type == "TicketFileAttached"][-1]
    assert (event.payload["afterSale"], event.payload["buyerOrderId"]) == (True, order.id)
    assert read(new_session, buyer.id, without.id).data == png()
    # once: the file the buyer has been told about cannot be swapped afterwards
    assert refused(lambda: attach(seller.id, without.id, pdf())).message == delivery.FROZEN
    assert read(new_session, buyer.id, without.id).data == png()


def test_cancelled_listing_takes_no_file(new_session, make_ticket, seller, attach) -> None:
    from ticketing_app.services import tickets

    ticket = make_ticket()
    with new_session() as db:
        tickets.cancel_ticket(db, user_id=seller.id, ticket_id=ticket.id, now=ticket.created_at)
    assert refused(lambda: attach(seller.id, ticket.id, pdf())).message == delivery.CANCELLED


def test_access_rule(
    new_session, make_ticket, make_user, seller, buyer, reserve, complete, attach
) -> None:
    ticket = make_ticket()
    attach(seller.id, ticket.id, pdf())
    other = make_user()
    assert isinstance(refused(lambda: read(new_session, None, ticket.id)), NotAuthenticated)
    assert isinstance(refused(lambda: read(new_session, other.id, ticket.id)), Forbidden)
    order = reserve(buyer, ticket.id).order
    assert isinstance(refused(lambda: read(new_session, buyer.id, ticket.id)), Forbidden)
    complete(order.id)
    assert read(new_session, buyer.id, ticket.id).data == pdf()
    assert read(new_session, seller.id, ticket.id).data == pdf()
    assert isinstance(refused(lambda: read(new_session, other.id, ticket.id)), Forbidden)
    missing = refused(lambda: read(new_session, buyer.id, str(uuid.uuid4())))
    assert isinstance(missing, NotFound)
    bare = make_ticket("No file")
    assert refused(lambda: read(new_session, seller.id, bare.id)).message == delivery.NO_FILE
    # a stranger is told 403, not whether a file exists
    assert isinstance(refused(lambda: read(new_session, other.id, bare.id)), Forbidden)


def test_completing_issues_a_fresh_code_and_a_refund_revokes_it(
    new_session, make_ticket, seller, buyer, reserve, complete, attach, rows, now
) -> None:
    ticket = make_ticket("Front row")
    attach(seller.id, ticket.id, pdf())
    order = complete(reserve(buyer, ticket.id).order.id)
    code = order.e_ticket_code
    assert code and len(code) >= 22  # token_urlsafe(18): 144 bits
    view = order_view(order, rows.ticket(ticket.id))
    assert view["eTicket"]["code"] == code
    assert view["eTicket"]["url"].endswith(f"/verify/{code}")
    with new_session() as db:
        verified = delivery.verify_code(db, code)
    assert verified == {
        "valid": True,
        "title": "Front row",
        "event": None,
        "holder": "b***@example.com",
    }
    with new_session() as db, db.begin():
        revoked = transitions.revoke_e_tickets(db.connection(), [order.id], now)
    assert revoked == [order.id]
    with new_session() as db, db.begin():  # idempotent
        assert transitions.revoke_e_tickets(db.connection(), [order.id], now) == []
    with new_session() as db:
        assert refused(lambda: delivery.verify_code(db, code)).status == 404
        assert refused(lambda: delivery.eticket_for_order(db, user_id=buyer.id, order_id=order.id))
    assert order_view(rows.order(order.id), rows.ticket(ticket.id))["eTicket"] is None
    assert isinstance(refused(lambda: read(new_session, buyer.id, ticket.id)), Forbidden)
    assert read(new_session, seller.id, ticket.id).data == pdf()


def test_a_refunded_charge_alone_ends_the_buyers_access(
    new_session, make_ticket, seller, buyer, reserve, complete, attach, now
) -> None:
    ticket = make_ticket()
    attach(seller.id, ticket.id, pdf())
    order = complete(reserve(buyer, ticket.id).order.id)
    with new_session() as db, db.begin():
        db.add(
            Charge(
                order_id=order.id, status=ChargeStatus.REFUNDED, amount_cents=order.price_cents,
                stripe_id="pi_x", stripe_refund_id="re_x", created_at=now, updated_at=now,
            )
        )  # fmt: skip
    assert isinstance(refused(lambda: read(new_session, buyer.id, ticket.id)), Forbidden)
    with new_session() as db:
        assert refused(lambda: delivery.verify_code(db, order.e_ticket_code)).status == 404


def test_a_resale_invalidates_the_earlier_code(
    new_session, make_ticket, make_user, seller, buyer, reserve, complete, attach, rows, now
) -> None:
    ticket = make_ticket()
    attach(seller.id, ticket.id, pdf())
    first = complete(reserve(buyer, ticket.id).order.id)
    # Back on sale (as an operator's refund-and-relist will put it), sold again.
    rows.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(status="available"))
    second_buyer = make_user()
    later = now + timedelta(minutes=1)
    second = reserve(second_buyer, ticket.id, at=later).order
    second = complete(second.id)
    assert second.e_ticket_code != first.e_ticket_code
    with new_session() as db:
        assert refused(lambda: delivery.verify_code(db, first.e_ticket_code)).status == 404
        assert delivery.verify_code(db, second.e_ticket_code)["valid"] is True
    assert isinstance(refused(lambda: read(new_session, buyer.id, ticket.id)), Forbidden)
    assert read(new_session, second_buyer.id, ticket.id).data == pdf()


def test_unknown_and_malformed_codes_are_404(new_session) -> None:
    with new_session() as db:
        for code in ("", "short", "x" * 200, "A" * 24, None):
            assert refused(lambda c=code: delivery.verify_code(db, c)).status == 404


def test_codes_are_unique_per_order(make_ticket, buyer, reserve, complete) -> None:
    codes = {
        complete(reserve(buyer, make_ticket(f"T{i}").id).order.id).e_ticket_code for i in range(5)
    }
    assert len(codes) == 5


def test_mask_email() -> None:
    assert delivery.mask_email("alice@example.com") == "a***@example.com"
    assert delivery.mask_email("b@x.org") == "b***@x.org"


def test_order_completed_event_carries_no_code(
    make_ticket, buyer, reserve, complete, stored_events
) -> None:
    order = complete(reserve(buyer, make_ticket().id).order.id)
    [done] = [e for e in stored_events() if e.type == "OrderCompleted"]
    assert order.e_ticket_code not in str(done.payload)
    assert order.id == done.aggregate_id


def race_attaches(new_session, seller_id: str, ticket_id: str, contenders, now) -> list:
    """Every contender attaches at once (a barrier); returns "won" or the refusal of each."""
    import threading

    barrier = threading.Barrier(len(contenders))
    outcomes: list[object] = [None] * len(contenders)

    def attach_one(i: int) -> None:
        barrier.wait()
        try:
            with new_session() as db:
                delivery.attach_ticket_file(
                    db, user_id=seller_id, ticket_id=ticket_id, data=contenders[i],
                    filename=f"{i}.png", now=now,
                )  # fmt: skip
            outcomes[i] = "won"
        except DomainError as exc:
            outcomes[i] = exc.message

    threads = [threading.Thread(target=attach_one, args=(i,)) for i in range(len(contenders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_of_racing_late_attaches_exactly_one_wins(
    new_session, make_ticket, seller, buyer, reserve, complete, now
) -> None:
    """After the sale, with nothing attached: one file gets in, the rest are refused."""
    for round_ in range(5):
        ticket = make_ticket(f"Race {round_}")
        complete(reserve(buyer, ticket.id).order.id)
        contenders = [png((10 + i, 10)) for i in range(6)]
        outcomes = race_attaches(new_session, seller.id, ticket.id, contenders, now)
        assert outcomes.count("won") == 1, outcomes
        assert set(outcomes) == {"won", delivery.FROZEN}
        winner = outcomes.index("won")
        assert read(new_session, buyer.id, ticket.id).data == contenders[winner]


def test_a_late_file_reaches_the_buyers_order_page(
    make_ticket, seller, buyer, reserve, complete, attach, delivered
) -> None:
    """The order page watches its order's topic: a file attached after the sale is pushed
    there (TicketFileAttached names the buyer's order), so "Download ticket" appears live."""
    from ticketing_app import live

    ticket = make_ticket()
    order = complete(reserve(buyer, ticket.id).order.id)
    attach(seller.id, ticket.id, png())
    [event] = [e for e in delivered if e.type == "TicketFileAttached"]
    assert live.order_topic(order.id) in live.topics_for(event)
    assert live.seller_topic(seller.id) in live.topics_for(event)


def _counts(new_session: Callable[[], Session]) -> tuple[int, int, int]:
    from ticketing_app.models import Event

    with new_session() as db:
        return tuple(  # type: ignore[return-value]
            db.exec(select(sa.func.count()).select_from(table)).one()
            for table in (Ticket, Event, TicketFile)
        )


def test_listing_with_a_refused_file_lists_nothing(new_session, seller, now) -> None:
    """Decision 70: the listing form's file is inspected before the listing is written — a
    wrong type, an empty or a cut-off file leaves no ticket and no new event behind."""
    new_event = {
        "name": "Refused Fest",
        "venue": "Hall",
        "city": "Lyon",
        "starts_at": (now + timedelta(days=9)).isoformat(),
    }
    for bad in (HTML, b"", truncated_png()):
        with new_session() as db, pytest.raises(DomainError) as refused:
            delivery.list_ticket_with_file(
                db,
                seller_id=seller.id,
                data=bad,
                filename="ticket.pdf",
                now=now,
                title="Stalls",
                price="20",
                face_value=None,
                new_event=new_event,
            )
        assert refused.value.field == files.FIELD
    assert _counts(new_session) == (0, 0, 0)


def test_listing_with_a_good_file_lists_it_attached(new_session, seller, now) -> None:
    data = pdf("Row A seat 1")
    with new_session() as db:
        ticket, not_attached = delivery.list_ticket_with_file(
            db,
            seller_id=seller.id,
            data=data,
            filename="Row A.pdf",
            now=now,
            title="Row A",
            price="20",
            face_value=None,
        )
    assert not_attached is None and ticket.has_file and ticket.title == "Row A"
    with new_session() as db:
        stored = delivery.readable_file(db, user_id=seller.id, ticket_id=ticket.id)
    assert stored.data == data and stored.meta.filename == "Row A.pdf"
    assert _counts(new_session) == (1, 0, 1)
