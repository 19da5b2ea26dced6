"""A tab's state tree holds the page states the tab has used, not all twenty (issue 19,
docs/decisions.md 102).

Without Redis, Reflex's in-memory state manager builds the whole tree of every state of the
app for each new tab: on `/` that is 20 page states of which three are read. Each of them is
then built, walked by the boot event's snapshot, its client storage reset and its delta
checked, on every connect. Reflex's Redis manager already works with a partial tree: it loads
the states an event needs (the handler's state, its parents and substates, the states whose
computed vars depend on them), and a state asked for later (`get_state`) is fetched then, by
`BaseState._get_state_from_redis`. `PageStatesOnDemand` is the in-memory manager doing the
same: a page state is built the first time an event, a live push or another state asks for
it.

Which page states may be missing, and why the page a visitor sees is the same:
- Only a page state whose untouched snapshot is its class defaults (`snapshot.
  _defaults_are_static`: no substates, computed vars only of its own fields) and that has no
  browser-storage field. A missing one therefore holds exactly what the frontend was compiled
  with; no other state's computed var reads it (that state would not qualify itself, and is
  always built), so nothing else needs it to be there.
- Every other state of the tree is built with the tree, as Reflex does.
- A snapshot that must show the whole tree gets the whole tree: a boot event without the
  compiled hashes (a reconnect, or browser storage to apply), a `hydrate`, and any event on a
  tree that was never hydrated (Reflex rehydrates it with a full snapshot). On a first load
  (the boot event with the hashes), only the page states whose frontend hash differs from
  the backend's default are built up front (`snapshot._defaults_held`): the rest would be left
  out of the snapshot anyway (decision 100).
- A page state built during a first load's boot event counts as one that held its defaults
  when the event began (`snapshot.note_built`), so what the event writes into it goes out as
  a delta (decision 101), as it did when the tree was built whole.

With Redis nothing changes here: `install` only replaces Reflex's own in-memory manager.
`tests/state/test_state_tree.py` and `tests/api/test_first_snapshot.py` check the rules.
"""

from __future__ import annotations

import dataclasses
import sys
from functools import cache
from typing import Any

import reflex as rx
from reflex.istate.manager.memory import StateManagerMemory, _ModifyState
from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.manager.token import BaseStateToken, StateToken
from reflex.state import BaseState, all_base_state_classes
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import _hydrate_event_names

from ticketing_app.state import snapshot


def on_demand(root_cls: type[BaseState]) -> frozenset[type[BaseState]]:
    """The page states of the app that a tab's tree may lack (module docstring)."""
    return _on_demand(root_cls, len(all_base_state_classes))  # again if states were defined


@cache
def _on_demand(root_cls: type[BaseState], _n_classes: int) -> frozenset[type[BaseState]]:
    return frozenset(
        cls
        for cls in root_cls.get_substates()
        if issubclass(cls, snapshot.PageState)
        and snapshot._defaults_are_static(cls)
        and not snapshot._has_client_storage(cls)
    )


def _build(root: BaseState, cls: type[BaseState]) -> BaseState:
    state = cls(parent_state=root, _reflex_internal_init=True)
    root.substates[cls.get_name()] = state
    snapshot.note_built(state)
    return state


def _new_root(root_cls: type[BaseState]) -> BaseState:
    root = root_cls(_reflex_internal_init=True, init_substates=False)
    lazy = on_demand(root_cls)
    for cls in root_cls.get_substates():
        if cls not in lazy:
            _build(root, cls)
    return root


def _build_missing(root: BaseState, cls: type[BaseState]) -> None:
    """Build the page state (`cls` or its ancestor under the root) if `root`'s tree lacks it."""
    top = cls
    while (parent := top.get_parent_state()) is not None and parent is not type(root):
        top = parent
    if parent is not None and top.get_name() not in root.substates:
        _build(root, top)


def _ensure(root: BaseState, cls: type[BaseState]) -> BaseState:
    """The instance of `cls` in `root`'s tree, its page state built if it was missing."""
    _build_missing(root, cls)
    return root._get_state_from_cache(cls)


def _ensure_all(root: BaseState, but: frozenset[type] = frozenset()) -> None:
    for cls in on_demand(type(root)):
        if cls not in but and cls.get_name() not in root.substates:
            _build(root, cls)


@dataclasses.dataclass
class PageStatesOnDemand(StateManagerMemory):
    """Reflex's in-memory state manager, with a tab's page states built when first used."""

    def _get_or_create_state(self, token: StateToken[Any]) -> Any:
        if isinstance(token, BaseStateToken) and token.cache_key not in self.states:
            self.states[token.cache_key] = _new_root(token.cls.get_root_state())
        return super()._get_or_create_state(token)

    def modify_state(self, token: StateToken[Any], **context: Any) -> Any:
        return _Modify(self, token, context.get("event"))

    async def get_state(  # type: ignore[override]
        self,
        token: StateToken[Any],
        top_level: bool = True,
        for_state_instance: BaseState | None = None,
    ) -> Any:
        """The state for a token, as Reflex's managers give it. With `for_state_instance`
        (`BaseState._get_state_from_redis`: a state the tree lacks, asked for by a state of
        it while its event holds the lock), the missing state is built into that tree."""
        token = self._coerce_token(token)
        if not isinstance(token, BaseStateToken):
            return await super().get_state(token)
        if for_state_instance is not None:
            root = for_state_instance._get_root_state()
        else:
            root = await super().get_state(token)
        state = _ensure(root, token.cls)
        return root if top_level else state

    async def _fill(self, root: BaseState, token: StateToken[Any], event: Event | None) -> None:
        """Build what the event about to run needs (module docstring)."""
        if not isinstance(token, BaseStateToken):
            return
        if event is not None and event.name in _hydrate_event_names():
            hashes = snapshot.first_load_hashes(event)
            held = await snapshot._defaults_held(hashes) if hashes is not None else None
            _ensure_all(root, held.classes if held is not None else frozenset())
        elif event is not None and not root.router_data:
            _ensure_all(root)  # Reflex rehydrates a tree it never hydrated: a full snapshot
        else:
            _build_missing(root, token.cls)


# The one place Reflex asks for a state missing from a tree (`BaseState._get_state_from_redis`)
# accepts a manager of this kind only; registered as one, `PageStatesOnDemand.get_state` builds
# the state into the tree. Nothing else in Reflex tells the managers apart by class.
StateManagerRedis.register(PageStatesOnDemand)


class _Modify(_ModifyState):
    __slots__ = ("_event",)

    def __init__(self, manager: PageStatesOnDemand, token: Any, event: Event | None) -> None:
        super().__init__(manager, token)
        self._event = event

    async def __aenter__(self) -> Any:
        root = await super().__aenter__()
        try:
            await self._manager._fill(root, self._token, self._event)  # type: ignore[attr-defined]
        except BaseException:
            await self.__aexit__(*sys.exc_info())
            raise
        return root


def install(app: rx.App) -> None:
    """Use `PageStatesOnDemand` where Reflex chose its in-memory manager (no Redis)."""
    current = app._state_manager
    if type(current) is StateManagerMemory:
        app._state_manager = PageStatesOnDemand(token_expiration=current.token_expiration)
