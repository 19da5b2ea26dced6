"""Rule 4 over real HTTP: 100 buyers press "Buy" on one ticket at the same moment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_helpers import PASSWORD, unique_email

from tests.support import Server

BUYERS = 100


@pytest.mark.slow
def test_one_of_100_simultaneous_orders_wins(server: Server) -> None:
    base = server.base_url
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    buyers = [httpx.Client(base_url=base, timeout=120, limits=limits) for _ in range(BUYERS)]
    seller = httpx.Client(base_url=base, timeout=60)
    try:
        for client in [seller, *buyers]:  # signed up (and connected) beforehand
            r = client.post(
                "/api/users/signup", json={"email": unique_email(), "password": PASSWORD}
            )
            assert r.status_code == 201, r.text
        ticket = seller.post("/api/tickets", json={"title": "Hot show", "price": 99}).json()

        start = threading.Barrier(BUYERS)

        def buy(client: httpx.Client) -> httpx.Response:
            start.wait()
            return client.post("/api/orders", json={"ticketId": ticket["id"]})

        with ThreadPoolExecutor(max_workers=BUYERS) as pool:
            responses = list(pool.map(buy, buyers))

        codes = sorted(r.status_code for r in responses)
        assert codes.count(201) == 1, codes
        assert codes.count(400) == BUYERS - 1, codes
        for r in responses:
            if r.status_code == 400:
                assert r.json() == {
                    "errors": [{"message": "Ticket is already reserved", "field": None}]
                }
        winner = next(r.json() for r in responses if r.status_code == 201)
        after = seller.get(f"/api/tickets/{ticket['id']}").json()
        assert after["status"] == "reserved" and after["orderId"] == winner["id"]
        assert after["version"] == ticket["version"] + 1  # locked exactly once
        orders = [c.get("/api/orders").json() for c in buyers]
        assert sum(len(o) for o in orders) == 1  # no orphan orders for the losers
    finally:
        for client in [seller, *buyers]:
            client.close()
