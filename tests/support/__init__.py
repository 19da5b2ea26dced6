"""What the test packages share (see docs/testing.md):

- `World` (world.py): users, tickets, orders, payments through the real services on one
  database, and readers of what was stored.
- `spawn_server(kind, env)`, `free_port()` (servers.py): real server processes on loopback.
- `wait_until` / `wait_until_async` (waiting.py): wait on a condition, never a bare sleep.
- relay.py (the outbox relay and JetStream) and stripe.py (localstripe) are imported by the
  packages that need them, so the others do not load nats or stripe.

Imported as `tests.support` (the checkout root is on sys.path under `python -m pytest`).
"""

from tests.support.servers import ROOT, Server, child_env, free_port, spawn_server
from tests.support.waiting import wait_until, wait_until_async
from tests.support.world import PASSWORD, World, row_id, unique_email

__all__ = [
    "PASSWORD",
    "ROOT",
    "Server",
    "World",
    "child_env",
    "free_port",
    "row_id",
    "spawn_server",
    "unique_email",
    "wait_until",
    "wait_until_async",
]
