"""`make demo-data`: a realistic market for a fresh install.

Users (password `password123`): alice@example.com, bob@example.com, carol@example.com,
dave@example.com. A dozen events over the coming weeks in four cities, several tickets each at
varied prices within the price cap (some sold), plus a few tickets without an event.
Running it twice on one day adds nothing new (events are found again by name, venue and start;
tickets by seller, title and event).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from ticketing_app.db import get_engine, read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.jobs.ledger_release import release_all_due
from ticketing_app.models import Ticket, User, utcnow
from ticketing_app.services import auth, events, tickets, transitions

PASSWORD = "password123"
USERS = ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
# name, venue, city, days from today, local hour (UTC), face value, [(seat, price, sold)]
EVENTS = [
    ("Radiohead", "Olympia", "Paris", 4, 19, 85, [("Stalls row F", 95, False),
        ("Balcony seat 12", 70, True), ("Stalls row B", 102, False)]),
    ("Paris Saint-Germain v Lyon", "Parc des Princes", "Paris", 9, 20, 60, [
        ("Tribune Auteuil", 65, False), ("Block K, row 3", 72, False)]),
    ("Hamilton", "Victoria Palace Theatre", "London", 3, 19, 120, [
        ("Dress circle B14", 140, False), ("Stalls M7", 120, True), ("Grand circle", 95, False)]),
    ("Arsenal v Chelsea", "Emirates Stadium", "London", 12, 16, 90, [
        ("North Bank, row 20", 99, False), ("Clock End", 108, False)]),
    ("Adele", "Wembley Stadium", "London", 21, 18, 150, [("Pitch standing", 175, False),
        ("Block 112", 160, True), ("Block 520", 110, False)]),
    ("Berlin Philharmonic: Mahler 5", "Philharmonie", "Berlin", 6, 19, 75, [
        ("Block A, row 4", 88, False), ("Block K", 60, False)]),
    ("Rammstein", "Olympiastadion", "Berlin", 27, 18, 110, [("Feuerzone", 130, False),
        ("Upper tier", 95, False), ("Standing", 115, True)]),
    ("Techno Night", "Berghain", "Berlin", 2, 22, 25, [("Entry", 30, False)]),
    ("Coldplay", "Johan Cruijff ArenA", "Amsterdam", 15, 19, 95, [
        ("Field standing", 110, False), ("Ring 2, block 215", 99, True),
        ("Ring 1, block 118", 114, False)]),
    ("Ajax v PSV", "Johan Cruijff ArenA", "Amsterdam", 18, 14, 55, [
        ("Zuid, row 12", 58, False), ("Oost", 66, False)]),
    ("Jazz at the Concertgebouw", "Concertgebouw", "Amsterdam", 8, 20, 45, [
        ("Main hall, row 9", 45, False), ("Balcony", 40, False)]),
    ("Tech Conference Day Pass", "ExCeL", "London", 33, 8, 199, [("Day pass", 199, False)]),
]  # fmt: skip
PAST_SALE = "Festival wristband, weekend"
PLAIN_LISTINGS = [("Gift card: Ticketing credit", "50"), ("Parking pass, any Saturday", "15")]


def _user(email: str) -> User:
    with read_session() as db:
        user = db.exec(select(User).where(User.email == email)).first()
    if user is None:
        with write_session() as db:
            user, _ = auth.signup(db, email=email, password=PASSWORD, now=utcnow())
        print(f"user {email} / {PASSWORD}")
    return user


def _exists(seller: User, title: str, event_id: str | None) -> bool:
    with read_session() as db:
        return (
            db.exec(
                select(Ticket.id).where(
                    Ticket.user_id == seller.id, Ticket.title == title, Ticket.event_id == event_id
                )
            ).first()
            is not None
        )


def _mark_sold(ticket: Ticket, buyer: User, at: datetime | None = None) -> None:
    """A finished sale as the payment flow leaves it (complete order, sold ticket, the seller's
    pending proceeds, and their domain events), through the same transitions; demo data only,
    so without a Stripe charge."""
    now = at or utcnow()
    with get_engine().begin() as conn:
        held = transitions.reserve(conn, buyer_id=buyer.id, ticket_id=ticket.id, now=now)
        transitions.complete(
            conn, order_id=held.order.id, payment_intent_id=f"pi_demo_{held.order.id}", now=now
        )


def seed() -> None:
    users = [_user(email) for email in USERS]
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for n, (name, venue, city, days, hour, face, seats) in enumerate(EVENTS):
        starts_at = (today + timedelta(days=days)).replace(hour=hour)
        creator = users[n % len(users)]
        with write_session() as db:
            result = events.create_event(
                db,
                user_id=creator.id,
                name=name,
                venue=venue,
                city=city,
                starts_at=starts_at.isoformat(),
                now=utcnow(),
            )
        if result.created:
            print(f"event {name} — {venue}, {city}, {starts_at:%d %b %H:%M} UTC")
        for i, (seat, price, sold) in enumerate(seats):
            seller = users[(n + i) % len(users)]
            if _exists(seller, seat, result.event.id):
                continue
            try:
                with write_session() as db:
                    ticket = tickets.create_ticket(
                        db,
                        seller_id=seller.id,
                        title=seat,
                        price=price,
                        face_value=face,
                        event_id=result.event.id,
                        now=utcnow(),
                    )
            except DomainError as exc:
                print(f"  skipped {seat}: {exc.message}")
                continue
            if sold:
                _mark_sold(ticket, users[(n + i + 1) % len(users)])
            print(f"  listed {seat} for {price}{' (sold)' if sold else ''}")
    # A sale three days old without an event: its proceeds are available on the seller's
    # /payouts (SPEC §12), ready for "Request payout".
    if not _exists(users[0], PAST_SALE, None):
        sold_at = utcnow() - timedelta(days=3)
        with write_session() as db:
            ticket = tickets.create_ticket(
                db, seller_id=users[0].id, title=PAST_SALE, price="35.00", now=sold_at
            )
        _mark_sold(ticket, users[1], at=sold_at)
        print(f"sold {PAST_SALE} three days ago: {USERS[0]} has a balance to pay out")
    release_all_due(now=utcnow())
    for title, price in PLAIN_LISTINGS:
        seller = users[0]
        if not _exists(seller, title, None):
            with write_session() as db:
                tickets.create_ticket(
                    db, seller_id=seller.id, title=title, price=price, now=utcnow()
                )
            print(f"listed {title} for {price}")


if __name__ == "__main__":
    seed()
