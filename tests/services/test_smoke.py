from ticketing_app.services import auth, orders, tickets


def test_reserve_locks_ticket(new_session, now):
    with new_session() as db:
        seller, _ = auth.signup(db, email="s@example.com", password="password1", now=now)
    with new_session() as db:
        buyer, _ = auth.signup(db, email="b@example.com", password="password1", now=now)
    with new_session() as db:
        t = tickets.create_ticket(db, seller_id=seller.id, title="Gig", price=20, now=now)
    with new_session() as db:
        res = orders.reserve_ticket(db, buyer_id=buyer.id, ticket_id=t.id, now=now)
    assert res.ticket.status == "reserved" and res.ticket.order_id == res.order.id
