"""Without Redis, a tab's state tree holds the page states it used (state/tree.py, decision
102): a page state whose untouched values are its class defaults is built the first time an
event, a push or another state asks for it, and a snapshot that must show the whole tree
gets the whole tree."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import reflex as rx
from reflex.istate.manager.token import BaseStateToken
from reflex.state import OnLoadInternalState, State, _resolve_delta, state_snapshot_hashes
from reflex_base.event import Event
from reflex_base.event.context import EventContext
from reflex_base.utils.format import format_event_handler

from ticketing_app.state.snapshot import PageState
from ticketing_app.state.tree import PageStatesOnDemand, on_demand


class Shown(PageState, rx.State):
    rows: list[str] = []

    @rx.event
    def add(self, row: str) -> None:
        self.rows.append(row)


class Asked(PageState, rx.State):
    n: int = 0


class RouterShaped(PageState, rx.State):
    @rx.var
    def path(self) -> str:
        return self.router.url.path


class KeepsACookie(PageState, rx.State):
    theme: str = rx.Cookie("")


def _boot(hashes: list[str] | None = None) -> Event:
    payload: dict[str, Any] = {"hashes": hashes} if hashes is not None else {}
    return Event(
        name=format_event_handler(State.event_handlers["hydrate_and_load"]), payload=payload
    )


def _event(handler: Any) -> Event:
    return Event(name=format_event_handler(handler), payload={})


async def _hashes() -> list[str]:
    """The compiled initialState's hashes, as a first page load sends them."""
    return state_snapshot_hashes(
        await _resolve_delta(State(_reflex_internal_init=True).dict(initial=True))
    )


def _names(root: Any) -> set[str]:
    return set(root.substates)


def _all() -> set[str]:
    return {cls.get_name() for cls in State.get_substates()}


async def _noop(*_: Any) -> None:
    return None


def _run(manager: PageStatesOnDemand, token: str, body: Any) -> Any:
    async def go() -> Any:
        with EventContext(token=token, state_manager=manager, enqueue_impl=_noop):
            return await body()

    return asyncio.run(go())


def test_only_page_states_at_their_class_defaults_are_built_on_demand() -> None:
    lazy = on_demand(State)
    assert {Shown, Asked} <= lazy
    assert RouterShaped not in lazy  # its computed var reads the router
    assert KeepsACookie not in lazy  # browser storage is reset and replayed on every boot
    assert OnLoadInternalState not in lazy  # Reflex's own states: always built
    assert all(issubclass(cls, PageState) for cls in lazy)


def test_a_first_load_builds_only_what_the_page_uses() -> None:
    manager, token = PageStatesOnDemand(), str(uuid.uuid4())

    async def body() -> None:
        hashes = await _hashes()
        async with manager.modify_state(
            BaseStateToken(ident=token, cls=State), event=_boot(hashes)
        ) as root:
            assert _names(root) == _all() - {c.get_name() for c in on_demand(State)}
            root.router_data = {"pathname": "/", "asPath": "/"}  # as Reflex sets it, hydrated
            asked = await root.get_state(Asked)  # asked for by the page's load
            assert asked.n == 0 and asked.parent_state is root
            asked.n = 5
        # an event of a state the tab never used builds it, once; what was written stays
        async with manager.modify_state(
            BaseStateToken(ident=token, cls=Shown), event=_event(Shown.add)
        ) as root:
            shown = await root.get_state(Shown)
            shown.rows.append("a")
            assert (await root.get_state(Asked)).n == 5
        async with manager.modify_state(BaseStateToken(ident=token, cls=Shown)) as root:
            assert (await root.get_state(Shown)).rows == ["a"]
            assert root.substates[Shown.get_name()] is shown
            assert RouterShaped.get_name() in _names(root)
            built = _names(root) - (_all() - {c.get_name() for c in on_demand(State)})
            assert built == {Asked.get_name(), Shown.get_name()}  # the tab's two, no other

    _run(manager, token, body)


def test_a_page_state_the_frontend_holds_other_defaults_for_is_built_for_the_snapshot() -> None:
    manager, token = PageStatesOnDemand(), str(uuid.uuid4())

    async def body() -> None:
        hashes = await _hashes()
        # the frontend's hash of `Asked` differs (another build's defaults): snapshot it
        full = sorted(cls.get_full_name() for cls in [State, *State.get_substates()])
        assert len(full) == len(hashes) - 1  # the names' digest, then one hash per state
        at = full.index(Asked.get_full_name())
        hashes[1 + at] = "0" * len(hashes[1 + at])
        async with manager.modify_state(
            BaseStateToken(ident=token, cls=State), event=_boot(hashes)
        ) as root:
            assert Asked.get_name() in _names(root)
            assert Shown.get_name() not in _names(root)

    _run(manager, token, body)


def test_a_snapshot_of_the_whole_tree_gets_the_whole_tree() -> None:
    manager = PageStatesOnDemand()

    async def body() -> None:
        # a reconnect's boot event (no hashes): Reflex's full snapshot
        async with manager.modify_state(
            BaseStateToken(ident=str(uuid.uuid4()), cls=State), event=_boot()
        ) as root:
            assert _names(root) == _all()
        # any event on a tree never hydrated (a restarted backend): Reflex rehydrates it
        async with manager.modify_state(
            BaseStateToken(ident=str(uuid.uuid4()), cls=Shown), event=_event(Shown.add)
        ) as root:
            assert _names(root) == _all()
        # a push (no event) to a tab builds only the state it is for
        async with manager.modify_state(BaseStateToken(ident=str(uuid.uuid4()), cls=Asked)) as root:
            assert Asked.get_name() in _names(root) and Shown.get_name() not in _names(root)

    _run(manager, "t", body)


def test_a_page_state_built_in_a_first_loads_boot_event_counts_as_at_its_defaults() -> None:
    """What the load writes into it goes out once, as a delta (decision 101), as when the tree
    was built whole and the state was there, untouched, when the event began."""
    from ticketing_app.state.snapshot import FirstSnapshot, _boot_of

    manager, token = PageStatesOnDemand(), str(uuid.uuid4())

    async def first_load() -> None:
        boot = _boot(await _hashes())
        async with manager.modify_state(BaseStateToken(ident=token, cls=State), event=boot) as root:
            root.router_data = {"pathname": "/", "asPath": "/"}
            await FirstSnapshot().preprocess(None, root, boot)
            assert _boot_of(await root.get_state(Asked)) is not None

    async def next_event() -> None:  # another event (its own context and txid)
        async with manager.modify_state(
            BaseStateToken(ident=token, cls=Shown), event=_event(Shown.add)
        ) as root:
            assert _boot_of(await root.get_state(Shown)) is None

    _run(manager, token, first_load)
    _run(manager, token, next_event)
