"""A new tab's first snapshot leaves out the page states it never touched (issue 19,
docs/decisions.md 100).

Reflex builds every state of the app for each new tab (without Redis, state/tree.py now builds
a page state only when it is used) and, on its boot event
(`hydrate_and_load`), serializes all of them (`BaseState.dict`: every var, every computed var
evaluated) only to drop, right after, what equals the defaults the compiled frontend already
holds (`_diff_against_initial_state`, which serializes each var once more to compare). On
`/` that is 20 page states of which three are read; their snapshot was most of a connect's
backend time.

`PageState` is the mixin of every page state: while its instance is untouched — no field read
or written, nothing dirty, no computed value cached — its `dict` returns nothing during that
one snapshot, so it costs nothing and is not in the diff. That is exactly what the diff would
have sent for it (nothing), under three conditions, each checked:
- the event is the boot event of a first page load, which carries the compiled initialState's
  hashes (`FirstSnapshot` below; a reconnect sends none and gets Reflex's full snapshot);
- the frontend's hash of this state equals the backend's own default snapshot's, as Reflex's
  diff requires before it drops anything (the state names' digest too);
- every computed var of the class depends only on the class's own fields (Reflex's dependency
  tracking): an untouched state's computed values are then the defaults' values. A computed
  var reading the router or another state keeps its state in the snapshot.
Such a state that the event itself then changes (`/` loads three inside its boot event,
`LoadInTheEvent`) is left out of the snapshot too: what it holds beyond the defaults is what
the event wrote, so its written fields are marked dirty again after Reflex cleaned the tree
for the snapshot, and go out in the delta Reflex adds to it (`_send_changes`), serialized
once for the wire instead of once more for the diff (decision 101).
The mixin also builds a page state with only Reflex's bookkeeping (it has no substates and
is given no values), and skips Reflex's per-field client-storage reset for a state without
browser-storage fields: both run for every state of every new tab.

`tests/api/test_first_snapshot.py` compares the two snapshots on every page;
`tests/state/test_snapshot_rules.py` checks the rule on the kinds of computed vars.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import reflex as rx
from reflex.state import (
    State,
    _diff_against_initial_state,
    _initial_snapshot_cache,
    all_base_state_classes,
)
from reflex.state import _override_base_method as override_base_method
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event.context import EventContext
from reflex_base.utils.format import format_event_handler
from reflex_base.utils.types import Unset


@dataclass(eq=False)
class _Boot:
    """A first page load's boot event while it runs (`FirstSnapshot`)."""

    txid: str
    held: _Held
    # ids of the page states that held their compiled defaults, as the frontend does, when
    # the event began (untouched, and the frontend's hash of them equal to the backend's), or
    # were built into the tree during it (`note_built`)
    fresh: set[int]
    # ids of those the event changed, whose changes go out as a delta (`PageState.dict`)
    resent: set[int] = field(default_factory=set)


# Set while that event runs; unset otherwise (a task's context ends with its event).
_FIRST_SNAPSHOT: ContextVar[_Boot | None] = ContextVar("first_snapshot", default=None)


@cache
def _boot_event() -> str:
    return format_event_handler(State.event_handlers["hydrate_and_load"])


@cache
def _defaults_are_static(cls: type[rx.State]) -> bool:
    """Whether an untouched instance of `cls` snapshots to its class defaults: no substates,
    and each computed var is cached, has no initial value of its own, and depends on fields of
    `cls` only (not the router's, not another state's)."""
    if cls.get_substates():
        return False
    own = cls.get_full_name()
    for computed in cls.computed_vars.values():
        if computed._backend:
            continue
        deps = computed._deps(objclass=cls)
        if not computed._cache or not deps or set(deps) != {own}:
            return False
        if not deps[own] <= set(cls.base_vars) or not isinstance(computed._initial_value, Unset):
            return False
    return True


def _untouched(state: rx.State) -> bool:
    # Reflex keeps a state's bookkeeping in slots and each field's value in the instance dict
    # from its first read on (computed values as `__cached_…`): an empty dict is untouched.
    return not vars(state) and not state.dirty_vars and not state.substates


def _in_its_event(boot: _Boot) -> bool:
    try:
        return EventContext.get().txid == boot.txid
    except LookupError:
        return False


def _running_boot() -> _Boot | None:
    boot = _FIRST_SNAPSHOT.get()
    return boot if boot is not None and _in_its_event(boot) else None


def _boot_of(state: rx.State) -> _Boot | None:
    """The running boot event, if `state` held the compiled defaults when it began."""
    boot = _FIRST_SNAPSHOT.get()
    if boot is None or id(state) not in boot.fresh:
        return None
    return boot if _in_its_event(boot) else None


def note_built(state: rx.State) -> None:
    """A page state just built into a tab's tree (state/tree.py) is at its defaults: built
    during a first load's boot event, it counts as one that held them when the event began."""
    boot = _running_boot()
    if boot is not None and type(state) in boot.held.classes:
        boot.fresh.add(id(state))


def _send_changes(state: rx.State, boot: _Boot) -> None:
    """Mark what the event changed in a state that began at its defaults as dirty again (the
    boot event cleaned it before its snapshot), so that it goes out in the delta Reflex adds
    to the snapshot: serialized once, on the wire, instead of once more for the diff against
    the defaults. A field only read holds its default; a string, int, bool or None equal to
    its compiled default (or an empty list or dict) is left out, as the diff would."""
    defaults = boot.held.defaults[type(state)]
    base_vars = state.base_vars
    changed = set()
    for name, value in vars(state).items():
        if name not in base_vars:
            continue  # a computed value (`__cached_…`): sent when what it reads is dirty
        kind = type(value)
        if kind in _EXACT or (kind in _CONTAINERS and not value):
            default = defaults.get(name, _NO_DEFAULT)
            if type(default) is kind and default == value:
                continue  # for these types, equal values are equal JSON
        changed.add(name)
    if changed:
        state.dirty_vars.update(changed)
        state._mark_ancestors_dirty()
        boot.resent.add(id(state))


def assign(state: rx.State, **values: Any) -> None:
    """Set fields of a page state, as `setattr` would. In a new tab's boot event, on a state
    that began it at its compiled defaults (`FirstSnapshot`) and has no computed vars, the
    values go straight into the instance dict: Reflex's per-field bookkeeping (dirty vars,
    dependent computed vars, ancestors; the type check that only logs) is cleaned away before
    the snapshot anyway, and `_send_changes` sends what that dict holds. The state is still
    marked touched, so a state manager that persists touched states (Redis) keeps it."""
    if (
        not state.computed_vars
        and values.keys() <= state.base_vars.keys()  # else setattr's own checks and errors
        and _boot_of(state) is not None
    ):
        vars(state).update(values)
        state._was_touched = True
        return
    for name, value in values.items():
        setattr(state, name, value)


# Types whose equal values serialize alike (not float: -0.0 == 0.0).
_EXACT = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({list, dict})
_NO_DEFAULT = object()


class PageState(rx.State, mixin=True):
    """Mixin of every page state (see the module docstring)."""

    def __init__(
        self,
        parent_state: rx.State | None = None,
        init_substates: bool = True,
        _reflex_internal_init: bool = False,
        **kwargs: Any,
    ) -> None:
        # Reflex (or state/tree.py, on first use) builds page states per tab; one built by its
        # parent (no values given, no substates of its own) needs only the bookkeeping.
        if (
            _reflex_internal_init
            and not kwargs
            and not self._mixin
            and not _has_substates(type(self))
        ):
            self._init_bookkeeping(parent_state)
            return
        super().__init__(parent_state, init_substates, _reflex_internal_init, **kwargs)

    @override_base_method
    def dict(
        self, include_computed: bool = True, initial: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        if include_computed and not initial and (boot := _boot_of(self)) is not None:
            if not _untouched(self):
                _send_changes(self, boot)
            return {}
        return super().dict(include_computed=include_computed, initial=initial, **kwargs)

    @override_base_method
    def get_delta(self) -> dict[str, Any]:
        delta = super().get_delta()
        boot = _FIRST_SNAPSHOT.get()
        if boot is not None and id(self) in boot.resent:
            # Sent with the snapshot: not again in the event's closing delta.
            boot.resent.discard(id(self))
            self.dirty_vars.clear()
        return delta

    @override_base_method
    def _reset_client_storage(self) -> None:
        # Reflex runs this over the whole tree on every boot event, field by field; a page
        # state without browser-storage fields (rx.Cookie, rx.LocalStorage) has nothing to reset.
        if _has_client_storage(type(self)) or self.substates:
            super()._reset_client_storage()


@cache
def _has_substates(cls: type[rx.State]) -> bool:
    return bool(cls.get_substates())


@cache
def _has_client_storage(cls: type[rx.State]) -> bool:
    fields = cls.get_fields()
    return any(cls._is_client_storage(fields[name]) for name in cls.base_vars)


@dataclass(frozen=True, eq=False)
class _Held:
    """What a frontend build holds, for `FirstSnapshot`."""

    # The page states whose compiled defaults it holds and whose untouched snapshot is those
    # defaults (`_defaults_are_static`): those a new tab's first snapshot may leave out.
    classes: frozenset[type]
    # Their compiled defaults (field name -> value, as the frontend has them).
    defaults: dict[type, dict[str, Any]]


async def _defaults_held(hashes: list[str]) -> _Held | None:
    """What a frontend with these hashes holds (None: nothing)."""
    cached = _initial_snapshot_cache.get(State)
    if cached is None or cached.n_state_classes != len(all_base_state_classes):
        # None (no compile in this process) or stale (state classes defined since): Reflex's
        # diff (re)builds its default snapshot, by its own rule.
        await _diff_against_initial_state(State, {}, hashes)
        cached = _initial_snapshot_cache.get(State)
    if cached is None or len(hashes) != len(cached.hashes) + 1 or hashes[0] != cached.names_digest:
        return None  # built against other states (or not a frontend's): nothing held
    key = tuple(hashes)
    if _held.get(key, (None,))[0] is cached:
        return _held[key][1]
    held = _build_held(cached, _match(cached, hashes))
    if len(_held) >= 8:  # one entry per frontend build in use (a deploy's old and new)
        _held.clear()
    _held[key] = (cached, held)
    return held


_held: dict[tuple[str, ...], tuple[Any, _Held | None]] = {}


def _match(cached: Any, hashes: list[str]) -> frozenset[str]:
    sent = dict(zip(sorted(cached.hashes), hashes[1:], strict=True))
    return frozenset(name for name, digest in cached.hashes.items() if sent[name] == digest)


def _build_held(cached: Any, names: frozenset[str]) -> _Held | None:
    classes = frozenset(
        cls
        for cls in State.get_substates()
        if issubclass(cls, PageState) and cls.get_full_name() in names and _defaults_are_static(cls)
    )
    if not classes:
        return None
    marker = len(FIELD_MARKER)
    defaults = {
        cls: {
            key[:-marker]: json.loads(text)
            for key, text in cached.serialized[cls.get_full_name()].items()
            if key.endswith(FIELD_MARKER)
        }
        for cls in classes
    }
    return _Held(classes, defaults)


def first_load_hashes(event: Any) -> list[str] | None:
    """The compiled initialState's hashes a first page load's boot event carries (None: not
    such an event, or browser storage to apply, which takes Reflex's own path unchanged)."""
    if event.name != _boot_event():
        return None
    payload = event.payload or {}
    hashes = payload.get("hashes")
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        return None
    if payload.get("vars"):
        return None
    return hashes


class FirstSnapshot(rx.Middleware):
    """Marks a first page load's boot event, for `PageState.dict` (module docstring)."""

    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        hashes = first_load_hashes(event)
        if hashes is None:
            return None
        held = await _defaults_held(hashes)
        if held is not None:
            fresh = set(
                id(page)
                for page in state._get_root_state().substates.values()
                if type(page) in held.classes and _untouched(page)
            )
            _FIRST_SNAPSHOT.set(_Boot(EventContext.get().txid, held, fresh))
        return None
