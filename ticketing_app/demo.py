"""`make demo-data`: three users and 16 tickets (more than one page) to browse on a fresh install.

Users (password `password123`): alice@example.com, bob@example.com, carol@example.com.
Running it twice adds nothing new.
"""

from __future__ import annotations

from sqlmodel import select

from ticketing_app.db import read_session, write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import Ticket, User, utcnow
from ticketing_app.services import auth, tickets

PASSWORD = "password123"
# 16 listings: more than one page of the marketplace (12 a page).
LISTINGS = {
    "alice@example.com": [
        ("Radiohead — Berlin, Row 12", "89.50"),
        ("Champions League Final, Block C", "420"),
        ("Glastonbury weekend pass", "355"),
        ("Berliner Philharmoniker, Mahler 5", "74"),
        ("Comedy Cellar late show (2 seats)", "48"),
        ("Tour de France finish, Champs-Élysées stand", "120"),
    ],
    "bob@example.com": [
        ("Hamilton — Saturday matinee", "135"),
        ("Jazz at the Blue Note (2 seats)", "60"),
        ("NBA Finals Game 3, upper bowl", "310"),
        ("Taylor Swift, floor standing", "499"),
        ("Swan Lake, Royal Opera House", "95.50"),
    ],
    "carol@example.com": [
        ("Tech Conference Day Pass", "199.99"),
        ("Wimbledon Centre Court, day 9", "260"),
        ("Coldplay stadium show, Block 112", "150"),
        ("Street food festival family ticket", "35"),
        ("Film festival opening night gala", "85"),
    ],
}


def seed() -> None:
    for email, listings in LISTINGS.items():
        with read_session() as db:
            user = db.exec(select(User).where(User.email == email)).first()
        if user is None:
            with write_session() as db:
                user, _ = auth.signup(db, email=email, password=PASSWORD, now=utcnow())
            print(f"user {email} / {PASSWORD}")
        for title, price in listings:
            with read_session() as db:
                exists = db.exec(
                    select(Ticket.id).where(Ticket.user_id == user.id, Ticket.title == title)
                ).first()
            if exists:
                continue
            try:
                with write_session() as db:
                    tickets.create_ticket(
                        db, seller_id=user.id, title=title, price=price, now=utcnow()
                    )
                print(f"  listed {title} for {price}")
            except DomainError as exc:
                print(f"  skipped {title}: {exc.message}")


if __name__ == "__main__":
    seed()
