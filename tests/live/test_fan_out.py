"""Live pushes fanned out to many tabs, against `reflex run --env prod --backend-only`.

The tabs are Socket.IO clients speaking Reflex's event protocol, as bench/bench_clients.py does:
each opens its socket with the frontend's boot event (`hydrate_and_load` for its page) in the
CONNECT packet, which runs the page's on_load and so registers the live watch. What a user
notices:
- every marketplace tab ends up showing every ticket of a burst of listings, made faster than
  the pushes go out (the marketplace read is shared by all tabs of a push wave, and a listing
  committed while a wave is out must still reach every tab: live.shared / LivePusher._again).
  300 tabs, so that a wave is still going out when the next listing commits: with a re-push
  that reused its first wave's read, this failed every time (checked); with 30 it did not;
- at the same time, a buyer's order page (signed in by its session cookie, a per-user read
  run off the event loop) shows the order cancelled through the REST API.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support import spawn_server, wait_until_async
from tests.support.servers import NO_LISTING_LIMITS

pytestmark = [pytest.mark.slow]

NAMESPACE = "/_event"
STATE = "reflex___state____state"
MARKET = f"{STATE}.ticketing_app___state___market____market_state"
ORDER = f"{STATE}.ticketing_app___state___orders____order_state"
TABS = 300
BURST = 5
PASSWORD = "correct horse battery"


class Tab:
    """One browser tab on `path`: the latest value of each var it was sent."""

    def __init__(self, base: str, path: str, cookie: str | None = None) -> None:
        import socketio

        self.base, self.path = base, path
        self.token = str(uuid.uuid4())
        self.headers = {"Cookie": f"session={cookie}"} if cookie else {}
        self.vars: dict[tuple[str, str], Any] = {}
        self.hydrated = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_update, namespace=NAMESPACE)

    async def _on_update(self, data: dict[str, Any]) -> None:
        for state, changes in (data.get("delta") or {}).items():
            for name, value in changes.items():
                self.vars[(state, name.removesuffix("_rx_state_"))] = value
        if self.vars.get((STATE, "is_hydrated")) is True:
            self.hydrated.set()

    def var(self, state: str, name: str) -> Any:
        return self.vars.get((state, name))

    async def open(self) -> None:
        route = {"pathname": self.path, "asPath": self.path}
        boot = {"token": self.token, "name": f"{STATE}.hydrate_and_load", "payload": {},
                "router_data": route}  # fmt: skip
        await self.sio.connect(
            f"{self.base}?token={self.token}",
            headers=self.headers,
            auth={"event": boot},
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=[NAMESPACE],
            wait_timeout=30,
        )
        await asyncio.wait_for(self.hydrated.wait(), 60)

    async def close(self) -> None:
        await self.sio.disconnect()
        http = self.sio.eio.http
        if http is not None and not http.closed:
            await http.close()


async def _scenario(base: str) -> None:
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as seller,
        httpx.AsyncClient(base_url=base, timeout=30) as buyer,
    ):
        for client, who in ((seller, "seller"), (buyer, "buyer")):
            r = await client.post("/api/users/signup",
                                  json={"email": f"{who}-{uuid.uuid4().hex[:8]}@example.com",
                                        "password": PASSWORD})  # fmt: skip
            assert r.status_code == 201, r.text
        r = await seller.post("/api/tickets", json={"title": "Held ticket", "price": 20})
        assert r.status_code == 201, r.text
        r = await buyer.post("/api/orders", json={"ticketId": r.json()["id"]})
        assert r.status_code == 201, r.text
        order_id = r.json()["id"]

        tabs = [Tab(base, "/") for _ in range(TABS)]
        order_tab = Tab(base, f"/orders/{order_id}", buyer.cookies["session"])
        for i in range(0, TABS, 50):
            await asyncio.gather(*(t.open() for t in tabs[i : i + 50]))
        await order_tab.open()
        try:
            assert (order_tab.var(ORDER, "order") or {}).get("status") == "created"

            titles = [f"Burst {i} {uuid.uuid4().hex[:6]}" for i in range(BURST)]
            # 30 ms apart: each commits while the pushes of the ones before are still going out.
            posts = []
            for title in titles:
                posts.append(asyncio.create_task(
                    seller.post("/api/tickets", json={"title": title, "price": 25})))  # fmt: skip
                await asyncio.sleep(0.03)
            assert [(await p).status_code for p in posts] == [201] * BURST
            r = await buyer.delete(f"/api/orders/{order_id}")
            assert r.status_code == 204, r.text

            def all_tabs_show_the_burst() -> bool:
                return all(
                    set(titles) <= {t["title"] for t in tab.var(MARKET, "tickets") or []}
                    for tab in tabs
                )

            took = await wait_until_async(all_tabs_show_the_burst, 10, "every tab shows the burst")
            print(f"\n{TABS} marketplace tabs showed all {BURST} listings {took:.2f} s after "
                  f"the last request")  # fmt: skip
            took = await wait_until_async(
                lambda: (order_tab.var(ORDER, "order") or {}).get("status") == "cancelled",
                10,
                "the order page shows the cancellation",
            )
            print(f"the order page showed the cancellation {took:.2f} s after that")
            # Nothing left behind: one more second, and no tab went back to an older page.
            await asyncio.sleep(1)
            assert all_tabs_show_the_burst()
        finally:
            await asyncio.gather(*(t.close() for t in [*tabs, order_tab]))


def test_a_burst_of_listings_reaches_every_marketplace_tab_and_an_order_page(
    sqlite_url: str,
) -> None:
    # The live tests' 2 s window (conftest) would expire the order before it is cancelled.
    backend = spawn_server(
        "backend",
        {**NO_LISTING_LIMITS, "DATABASE_URL": sqlite_url, "TICKETING_LOCK_SECONDS": "900"},
        start=False,
    )
    try:
        backend.start()
        asyncio.run(_scenario(backend.url))
    except BaseException:
        print(backend.log_tail())
        raise
    finally:
        backend.remove()
