"""A new tab's first snapshot (state/snapshot.py, decision 100) leaves out the page states the
tab never touched, and shows exactly what Reflex's own diff against the compiled defaults
would: the page a visitor sees on a first load is the same, only cheaper to send.

Against the prod backend: for each page, one tab boots it as a first load does (with the
compiled initialState's hashes) and another as a reconnect does (without: Reflex's full
snapshot, which the mixin never shortens); the first must equal the second minus what the
frontend already holds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import PASSWORD, unique_email

from tests.support import Server, spawn_server
from tests.support.reflex_socket import (
    FIELD,
    ROOT_STATE,
    Tab,
    compiled_hashes,
    compiled_initial_state,
)

pytestmark = pytest.mark.slow

# Different in every connection, whichever snapshot: the client token and socket id, the
# upgrade's headers, and the server clock the countdowns start from.
PER_CONNECTION = {
    (ROOT_STATE, f"rx_router_session{FIELD}"),
    (ROOT_STATE, f"rx_router_headers{FIELD}"),
}


@pytest.fixture(scope="module")
def backend() -> Iterator[Server]:
    with spawn_server("backend", {}) as server:
        yield server


@pytest.fixture(scope="module")
def initial(backend: Server) -> dict[str, dict[str, Any]]:
    return compiled_initial_state(backend)


@pytest.fixture(scope="module")
def hashes(backend: Server) -> list[str]:
    return compiled_hashes(backend)


@pytest.fixture(scope="module")
def site(backend: Server) -> dict[str, str]:
    """A seller with a show and two tickets on sale (one of them at the show), signed in."""
    with httpx.Client(base_url=backend.base_url, timeout=30) as seller:
        r = seller.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        assert r.status_code == 201, r.text
        starts = (datetime.now(UTC) + timedelta(days=9)).replace(microsecond=0)
        event = seller.post("/api/events", json={
            "name": f"Snapshot show {uuid.uuid4().hex[:6]}", "venue": "Olympia", "city": "Paris",
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
        }).json()  # fmt: skip
        ticket = seller.post(
            "/api/tickets", json={"title": "Seat", "price": 30, "eventId": event["id"]}
        ).json()
        seller.post("/api/tickets", json={"title": "Loose seat", "price": 12.5})
        return {"session": r.cookies["session"], "event": event["id"], "ticket": ticket["id"]}


def _json(value: Any) -> str:
    from reflex_base.utils.format import json_dumps

    return json_dumps(value)


def shown(initial: dict[str, dict[str, Any]], tab: Tab) -> dict[str, dict[str, Any]]:
    """The frontend's state once the tab's deltas are applied to the compiled initialState (what
    a first load starts from), minus what differs in every connection."""
    state = {name: dict(values) for name, values in initial.items()}
    for delta in tab.deltas:
        for name, values in delta.items():
            state.setdefault(name, {}).update(values)
    for name, values in state.items():
        for var in [v for v in values if (name, v) in PER_CONNECTION or v == f"server_now{FIELD}"]:
            values[var] = None
    return state


async def _boots(
    base: str, hashes: list[str], path: str, cookie: str | None, **route: Any
) -> tuple[Tab, Tab]:
    """Two tabs on `path`: one booted as a first load, one as a reconnect."""
    first, reconnect = Tab(base, cookie=cookie), Tab(base, cookie=cookie)
    try:
        await first.boot(path, hashes=hashes, **route)
        await reconnect.boot(path, **route)
    finally:
        await first.close()
        await reconnect.close()
    return first, reconnect


PAGES = [
    ("/", {}),
    ("/?q=seat&sort=price_asc", {"query": {"q": "seat", "sort": "price_asc"}}),
    ("/events", {}),
    ("/signin?next=/orders", {"query": {"next": "/orders"}}),
    ("/orders", {}),
    ("/listings", {}),
    ("/account", {}),
    ("/admin", {}),
]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_a_first_load_shows_what_the_full_snapshot_shows(
    backend: Server, initial: dict, hashes: list[str], site: dict[str, str], signed_in: bool
) -> None:
    cookie = site["session"] if signed_in else None
    pages = [
        *PAGES,
        (f"/tickets/{site['ticket']}", {"pattern": "/tickets/[id]",
                                        "query": {"id": site["ticket"]}}),
        (f"/events/{site['event']}", {"pattern": "/events/[id]",
                                      "query": {"id": site["event"]}}),
    ]  # fmt: skip
    for path, route in pages:
        first, reconnect = asyncio.run(_boots(backend.base_url, hashes, path, cookie, **route))
        # The reconnect got Reflex's full snapshot (every state of the app); the first load
        # got less, and the page shows the same.
        assert set(reconnect.deltas[0]) == set(initial), path
        assert len(first.deltas[0]) < len(initial), path
        assert shown(initial, first) == shown(initial, reconnect), path


def test_the_market_page_sends_only_the_states_it_shows(
    backend: Server, hashes: list[str], site: dict[str, str]
) -> None:
    first, _reconnect = asyncio.run(_boots(backend.base_url, hashes, "/", None))
    sent = first.merged()
    states = {name.rsplit(".", 1)[-1].split("____")[-1] for name in sent}
    assert states <= {"state", "market_state", "nav_state", "events_state"}, states
    market = next(values for name, values in sent.items() if name.endswith("market_state"))
    assert {card["title"] for card in market[f"tickets{FIELD}"]} >= {"Seat", "Loose seat"}
    # The states the boot event loaded go out once, with the snapshot (decision 101): not
    # again in the event's closing delta, and nothing of them equal to the defaults.
    carrying = [
        delta for delta in first.deltas
        if any(f"tickets{FIELD}" in values for values in delta.values())
    ]  # fmt: skip
    assert len(carrying) == 1 and carrying[0] is first.deltas[0]
    assert all(set(values) <= {f"is_hydrated{FIELD}"} for values in first.deltas[-1].values())
    events = next(values for name, values in sent.items() if name.endswith("events_state"))
    assert f"query{FIELD}" not in market and f"error{FIELD}" not in events


def test_a_reload_still_gets_what_the_tab_changed(
    backend: Server, initial: dict, hashes: list[str]
) -> None:
    """A reload keeps the tab's token (and its states on the server) but the frontend starts
    from the compiled defaults again: a state the tab changed is sent although the boot
    carries the hashes."""
    forgot = next(name for name in initial if name.endswith("forgot_state"))

    async def run() -> Tab:
        tab = Tab(backend.base_url)
        await tab.boot("/forgot", hashes=hashes)
        await tab.send(f"{forgot}.submit", {"form": {"email": "not an address"}})
        await tab.close()
        reloaded = Tab(backend.base_url, token=tab.token)
        try:
            await reloaded.boot("/", hashes=hashes)
        finally:
            await reloaded.close()
        return reloaded

    reloaded = asyncio.run(run())
    assert reloaded.deltas[0][forgot][f"email_error{FIELD}"]  # the error it showed is still there


def test_what_a_first_load_wrote_is_kept_by_the_redis_state_manager() -> None:
    """With REDIS_URL a tab's states live in Redis between events, and Reflex writes back only
    the states an event touched. The market's load writes a fresh state's fields straight into
    it during a first load's boot (`snapshot.assign`): the next event still finds them — here
    "Next page" knows there are more tickets than one page shows."""
    with (
        spawn_server("redis") as redis,
        spawn_server("backend", {"REDIS_URL": redis.url}) as backend,
    ):
        with httpx.Client(base_url=backend.base_url, timeout=30) as seller:
            r = seller.post(
                "/api/users/signup", json={"email": unique_email(), "password": PASSWORD}
            )
            assert r.status_code == 201, r.text
            for i in range(13):  # one more than a page
                r = seller.post("/api/tickets", json={"title": f"Row {i}", "price": 20 + i})
                assert r.status_code == 201, r.text
        hashes = compiled_hashes(backend)
        market = next(n for n in compiled_initial_state(backend) if n.endswith("market_state"))

        async def run() -> Tab:
            tab = Tab(backend.base_url)
            try:
                await tab.boot("/", hashes=hashes)
                assert tab.merged()[market][f"total{FIELD}"] == 13
                await tab.send(f"{market}.next_page", {})
            finally:
                await tab.close()
            return tab

        tab = asyncio.run(run())
        paths = [e["payload"].get("path") for e in tab.events if e["name"] == "_redirect"]
        assert paths == ["/?page=2"], tab.events
