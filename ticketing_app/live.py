"""The one place that knows how to push a change to connected browsers (issue 5).

Contract for page states (the UI side):
- A state that shows tickets/orders calls `watch(client_token, StateClass, topics)` from its
  on_load handler (client_token = `self.router.session.client_token`), with the topics it shows:
  `TICKETS` (the marketplace list), `ticket_topic(id)`, `order_topic(id)`, `seller_topic(user_id)`,
  `buyer_topic(user_id)`. Calling watch again replaces that client's topics for that class.
- The state class implements a plain (non-event) method `_reload_live(self) -> None` that re-reads
  what it shows from the database (through services) and sets its vars. It must re-derive the
  user from the session cookie itself: the push carries no identity and no data.
The push side (this module) maps each committed domain event to topics and calls
`_reload_live` on the watching clients' states via `app.modify_state(rx.BaseStateToken(...))`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

TICKETS = "tickets"


def ticket_topic(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def order_topic(order_id: str) -> str:
    return f"order:{order_id}"


def seller_topic(user_id: str) -> str:
    return f"seller:{user_id}"


def buyer_topic(user_id: str) -> str:
    return f"buyer:{user_id}"


_lock = threading.Lock()
# client_token -> {state full name -> (state class, topics)}
_watchers: dict[str, dict[str, tuple[type, frozenset[str]]]] = {}


def watch(client_token: str, state_cls: type, topics: Iterable[str]) -> None:
    """Register what a client's page shows (replaces its previous topics for that state)."""
    if not client_token:
        return
    name = getattr(state_cls, "get_full_name", lambda: state_cls.__name__)()
    with _lock:
        _watchers.setdefault(client_token, {})[name] = (state_cls, frozenset(topics))


def unwatch(client_token: str) -> None:
    with _lock:
        _watchers.pop(client_token, None)


def watchers_for(topics: Iterable[str]) -> list[tuple[str, type]]:
    """(client_token, state class) pairs whose page shows any of `topics`."""
    wanted = set(topics)
    with _lock:
        return [
            (token, cls)
            for token, by_state in _watchers.items()
            for cls, their_topics in by_state.values()
            if their_topics & wanted
        ]
