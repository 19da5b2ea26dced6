"""Which page states a new tab's first snapshot may leave out while untouched
(state/snapshot.py): only those whose untouched values are the class defaults."""

from __future__ import annotations

import reflex as rx

from ticketing_app.state.snapshot import PageState, _defaults_are_static, _untouched


class OwnFieldsOnly(PageState, rx.State):
    rows: list[str] = []

    @rx.var
    def row_count(self) -> int:
        return len(self.rows)


class ReadsTheRouter(PageState, rx.State):
    @rx.var
    def path(self) -> str:
        return self.router.url.path


class ReadsAnotherState(PageState, rx.State):
    @rx.var
    async def other_rows(self) -> int:
        other = await self.get_state(OwnFieldsOnly)
        return len(other.rows)


class Uncached(PageState, rx.State):
    n: int = 0

    @rx.var(cache=False)
    def doubled(self) -> int:
        return self.n * 2


class HasAnInitialValue(PageState, rx.State):
    n: int = 0

    @rx.var(initial_value=5)
    def plus_five(self) -> int:
        return self.n + 5


def test_only_states_computed_from_their_own_fields_can_be_left_out() -> None:
    assert _defaults_are_static(OwnFieldsOnly)
    assert not _defaults_are_static(ReadsTheRouter)
    assert not _defaults_are_static(ReadsAnotherState)
    assert not _defaults_are_static(Uncached)
    assert not _defaults_are_static(HasAnInitialValue)


def test_a_state_is_untouched_until_a_field_is_read_or_written() -> None:
    from reflex.state import State

    root = State(_reflex_internal_init=True)
    state = root.substates[OwnFieldsOnly.get_name()]
    assert _untouched(state)
    assert state.row_count == 0  # a computed value cached counts as touched
    assert not _untouched(state)
    fresh = State(_reflex_internal_init=True).substates[OwnFieldsOnly.get_name()]
    fresh.rows.append("a")  # read (then changed through its proxy)
    assert not _untouched(fresh)


def test_every_page_state_of_the_app_is_a_page_state() -> None:
    """A state without the mixin would be built and snapshotted in full for every new tab."""
    import importlib
    import pkgutil

    import ticketing_app.state as package

    states = []
    for module in pkgutil.iter_modules(package.__path__):
        loaded = importlib.import_module(f"{package.__name__}.{module.name}")
        states += [
            value
            for value in vars(loaded).values()
            if isinstance(value, type)
            and issubclass(value, rx.State)
            and value.__module__ == loaded.__name__
            and not value._mixin
        ]
    assert len(states) >= 20
    assert [s.__name__ for s in states if not issubclass(s, PageState)] == []


class Plain(PageState, rx.State):
    n: int = 0
    label: str = ""


def test_assign_outside_a_boot_event_is_setattr() -> None:
    """`snapshot.assign` writes past Reflex's bookkeeping only in a new tab's boot event (the
    API tests boot `/`); anywhere else it is plain assignment: dirty, sent in the next delta."""
    import pytest
    from reflex.state import State

    from ticketing_app.state.snapshot import assign

    state = State(_reflex_internal_init=True).substates[Plain.get_name()]
    assign(state, n=3, label="x")
    assert (state.n, state.label) == (3, "x")
    assert state.dirty_vars >= {"n", "label"}
    with pytest.raises(AttributeError):
        assign(state, not_a_field=1)
