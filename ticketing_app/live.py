"""The one place that knows how to push a change to connected browsers (issue 5).

Contract for page states (the UI side):
- A state that shows tickets/orders calls `watch(client_token, StateClass, topics)` from its
  on_load handler (client_token = `self.router.session.client_token`), with the topics it shows:
  `TICKETS` (the marketplace list), `ticket_topic(id)`, `order_topic(id)`, `seller_topic(user_id)`,
  `buyer_topic(user_id)`. Calling watch again replaces that client's topics for that class.
- The state class implements a plain (non-event) method `_reload_live(self) -> None` that re-reads
  what it shows from the database (through services) and sets its vars. It must re-derive the
  user from the session cookie itself: the push carries no identity and no data. With a
  database over the network (PostgreSQL) a push runs it in a worker thread (the state is locked
  for it, as for an event), so its waits on the database never stall the event loop that serves
  every socket of the worker; with SQLite (in-process: pure CPU under the GIL, where a thread
  hop only adds contention) it runs on the loop (docs/performance.md §3).
- A read that is the same for every watcher (the marketplace page for a given search, sort and
  page) goes through `shared(key, read)`: within one push wave it runs once and every watching
  state gets its result, instead of one query per connected client. A state whose
  `_reload_live` reads only through `shared` watches with `in_thread=False`: its pushes then run
  on the event loop, saving a thread hop per watcher (docs/performance.md §4).
The push side (this module) maps each committed domain event to topics and calls
`_reload_live` on the watching clients' states via `app.modify_state(rx.BaseStateToken(...))`.

The registry is per worker process: a client's on_load runs on the worker holding its socket,
and every worker sees every event (`jobs/bus.py`), so each worker pushes to its own watchers.
A watcher is dropped when its tab has moved to another page (the route recorded at `watch`
differs from the state's current route) or its socket has been gone for two prune rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ticketing_app.outbox import Event
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)

TICKETS = "tickets"
EVENTS = "events"  # the front door's upcoming events and their figures (SPEC §9)
PAYOUTS = "payouts"  # the operators' payout queue (SPEC §12)


def ticket_topic(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def order_topic(order_id: str) -> str:
    return f"order:{order_id}"


def event_topic(event_id: str) -> str:
    return f"event:{event_id}"


def seller_topic(user_id: str) -> str:
    return f"seller:{user_id}"


def buyer_topic(user_id: str) -> str:
    return f"buyer:{user_id}"


def notifications_topic(user_id: str) -> str:
    """The bell of `user_id`'s tabs (their unread count)."""
    return f"notifications:{user_id}"


# Not a domain event (nothing in the domain changed, nothing in the outbox): the signal that a
# user's unread count changed, sent on the bus so every worker pushes to that user's tabs. It
# names the user only; each tab re-reads its own count for the user its cookie signs in.
UNREAD_CHANGED = "UnreadChanged"


def unread_changed_event(user_id: str) -> Event:
    from ticketing_app.models import new_id, utcnow

    return Event(
        id=new_id(),
        type=UNREAD_CHANGED,
        aggregate_type="user",
        aggregate_id=user_id,
        aggregate_version=0,
        payload={},
        created_at=utcnow(),
    )


def user_topic(user_id: str) -> str:
    """The user's own account (the navbar: a suspension ends the session's open pages)."""
    return f"user:{user_id}"


def topics_for(event: Event) -> set[str]:
    """Which views a committed event changes (the payloads are SPEC JSON shapes)."""
    p = event.payload
    topics: set[str] = set()
    if event.type == UNREAD_CHANGED:
        return {notifications_topic(event.aggregate_id)}
    if event.aggregate_type == "ticket":
        topics |= {TICKETS, ticket_topic(event.aggregate_id)}
        if p.get("userId"):
            topics.add(seller_topic(p["userId"]))
        if p.get("eventId"):  # its event's count and "from" price
            topics |= {EVENTS, event_topic(p["eventId"])}
        if p.get("previousEventId"):  # moved off that event
            topics |= {EVENTS, event_topic(p["previousEventId"])}
        if p.get("buyerOrderId"):  # TicketFileAttached after the sale: the buyer's order page
            topics.add(order_topic(p["buyerOrderId"]))
    elif event.aggregate_type == "event":
        topics |= {EVENTS, event_topic(event.aggregate_id)}
    elif event.aggregate_type == "user":
        topics.add(user_topic(event.aggregate_id))
    elif event.aggregate_type == "order":
        topics.add(order_topic(event.aggregate_id))
        if p.get("userId"):
            topics.add(buyer_topic(p["userId"]))
        if p.get("ticketId"):
            topics.add(ticket_topic(p["ticketId"]))
    elif event.aggregate_type == "payout":
        topics |= {PAYOUTS, seller_topic(p.get("sellerId", ""))}
    elif event.aggregate_type == "charge":
        if p.get("orderId"):
            topics.add(order_topic(p["orderId"]))
        if p.get("userId"):
            topics.add(buyer_topic(p["userId"]))
    return topics


@dataclass(frozen=True)
class Watch:
    state_cls: type
    topics: frozenset[str]
    route: str | None  # the page route the watch was made on; None if unknown
    in_thread: bool = True  # run `_reload_live` in a worker thread (False: on the loop)


_lock = threading.Lock()
# client_token -> {state full name -> Watch}
_watchers: dict[str, dict[str, Watch]] = {}


def _state_name(state_cls: type) -> str:
    return getattr(state_cls, "get_full_name", lambda: state_cls.__name__)()


def _current_route() -> str | None:
    """The route of the event being handled (watch is called from on_load)."""
    try:
        from reflex_base.event.context import EventContext

        return EventContext.get().router_data.get("pathname") or None
    except Exception:  # outside an event (tests) or an older Reflex
        return None


def watch(
    client_token: str, state_cls: type, topics: Iterable[str], *, in_thread: bool = True
) -> None:
    """Register what a client's page shows (replaces its previous topics for that state).
    `in_thread=False` only for a state whose `_reload_live` reads through `shared` alone."""
    if not client_token:
        return
    entry = Watch(state_cls, frozenset(topics), _current_route(), in_thread)
    with _lock:
        _watchers.setdefault(client_token, {})[_state_name(state_cls)] = entry


def unwatch(client_token: str, state_cls: type | None = None) -> None:
    """Forget a client (or one of its states)."""
    with _lock:
        if state_cls is None:
            _watchers.pop(client_token, None)
            return
        by_state = _watchers.get(client_token)
        if by_state is not None:
            by_state.pop(_state_name(state_cls), None)
            if not by_state:
                _watchers.pop(client_token, None)


def watched_tokens() -> list[str]:
    with _lock:
        return list(_watchers)


def _watches_for(topics: Iterable[str]) -> list[tuple[str, Watch]]:
    wanted = set(topics)
    with _lock:
        return [
            (token, w)
            for token, by_state in _watchers.items()
            for w in by_state.values()
            if w.topics & wanted
        ]


def watchers_for(topics: Iterable[str]) -> list[tuple[str, type]]:
    """(client_token, state class) pairs whose page shows any of `topics`."""
    return [(token, w.state_cls) for token, w in _watches_for(topics)]


T = TypeVar("T")


@dataclass(eq=False)
class Wave:
    """The pushes requested by one flush: reads shared between them (`shared`)."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reads: dict[Hashable, Future[Any]] = field(default_factory=dict)

    def read(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            future = self._reads.get(key)
            owner = future is None
            if future is None:
                future = self._reads[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()


_wave: ContextVar[Wave | None] = ContextVar("live_wave", default=None)


def shared(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per push wave for everyone asking with `key` (the same value object is
    returned to each: do not mutate it). Outside a push (an event handler) it simply computes.

    Fresh enough: a wave's first read runs after every event that started the wave was
    committed; an event committed later starts another wave, and each watcher whose push was
    still pending or running is pushed once more (`LivePusher._again`) with a new read.
    """
    wave = _wave.get()
    return compute() if wave is None else wave.read(key, compute)


class LivePusher:
    """Runs on one worker's event loop: event -> topics -> `_reload_live` on watching states.

    Events are coalesced per loop tick (a reservation commits OrderCreated + TicketUpdated;
    the marketplace reloads once). A push to a client that is still running is followed by one
    more push, never by a pile of them, so a slow client cannot stall the others. The pushes of
    one flush form a `Wave` (reads shared through `shared`); `_reload_live` runs in a worker
    thread when the database is over the network (unless watched with `in_thread=False`), so
    the loop keeps sending deltas and serving events while pushes wait on the database.
    """

    PRUNE_SECONDS = 30.0
    MAX_CONCURRENT = 32

    def __init__(self, app: Any) -> None:
        self.app = app
        self._pending: set[str] = set()
        self._flush_scheduled = False
        self._inflight: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._again: dict[tuple[str, str], Wave] = {}
        self._sem = asyncio.Semaphore(self.MAX_CONCURRENT)
        self._absent: set[str] = set()
        self.pushes = 0  # observability for tests and logs
        self.threads = _database_over_network()

    # --- event intake (loop thread) ---
    def on_event(self, event: Event) -> None:
        self._pending |= topics_for(event)
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        topics, self._pending, self._flush_scheduled = self._pending, set(), False
        wave = Wave()
        for token, w in _watches_for(topics):
            self._request(token, w, wave)

    def _request(self, token: str, w: Watch, wave: Wave) -> None:
        key = (token, _state_name(w.state_cls))
        if key in self._inflight:
            self._again[key] = wave
            return
        task = asyncio.create_task(self._push(token, w, wave), name=f"live-push|{key[1]}")
        self._inflight[key] = task
        task.add_done_callback(lambda _t, key=key: self._done(key))

    def _done(self, key: tuple[str, str]) -> None:
        self._inflight.pop(key, None)
        wave = self._again.pop(key, None)
        if wave is not None:
            with _lock:
                current = _watchers.get(key[0], {}).get(key[1])
            if current is not None:
                self._request(key[0], current, wave)

    # --- the push itself ---
    def _token_manager(self) -> Any:
        namespace = getattr(self.app, "event_namespace", None)
        return getattr(namespace, "_token_manager", None)

    async def _connected(self, token: str) -> bool:
        manager = self._token_manager()
        if manager is None:
            return True
        try:
            return bool(await manager.is_token_connected(token))
        except Exception:
            return token in getattr(manager, "token_to_socket", {})

    async def _push(self, token: str, w: Watch, wave: Wave) -> None:
        import reflex as rx

        _wave.set(wave)  # this task's context; asyncio.to_thread carries it to the thread
        async with self._sem:
            if not await self._connected(token):
                return
            started = time.monotonic()
            try:
                async with self.app.modify_state(
                    rx.BaseStateToken(ident=token, cls=w.state_cls)
                ) as root:
                    state = await root.get_state(w.state_cls)
                    route = _route_of(root)
                    if w.route and route and route != w.route:
                        unwatch(token, w.state_cls)  # the tab moved to another page
                        return
                    if w.in_thread and self.threads:
                        await asyncio.to_thread(state._reload_live)
                    else:
                        state._reload_live()
            except Exception:
                log.exception("live push to %s failed", w.state_cls.__name__)
                return
            self.pushes += 1
            log.debug(
                "live push %s in %.0f ms", w.state_cls.__name__, 1e3 * (time.monotonic() - started)
            )

    # --- housekeeping ---
    async def prune_forever(self) -> None:
        """Drop watchers whose socket was gone at two prune rounds in a row."""
        while True:
            await asyncio.sleep(self.PRUNE_SECONDS)
            await self.prune()

    async def prune(self) -> None:
        absent = {t for t in watched_tokens() if not await self._connected(t)}
        for token in absent & self._absent:
            unwatch(token)
        self._absent = absent

    async def drain(self) -> None:
        """Wait for in-flight pushes (tests, shutdown)."""
        while self._inflight or self._flush_scheduled:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)
            await asyncio.sleep(0)


def _database_over_network() -> bool:
    """Whether pushes should read in worker threads: yes unless the database is SQLite."""
    return not get_settings().is_sqlite


def _route_of(state: Any) -> str | None:
    root = state
    while getattr(root, "parent_state", None) is not None:
        root = root.parent_state
    try:
        return root.router.route_id or None  # the matched route pattern (was page.path)
    except Exception:
        return None
