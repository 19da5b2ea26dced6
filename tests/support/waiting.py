"""Waits on a condition instead of sleeps: poll until it holds, fail with a message if it does not.

took = wait_until(lambda: world.get_order(oid).status == "expired", 4, "order expired")
took = await wait_until_async(lambda: relay.active, 15, "relay active")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

INTERVAL = 0.02


def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    message: str = "",
    *,
    interval: float = INTERVAL,
) -> float:
    """Poll `predicate()` until it is truthy; returns the seconds that took. AssertionError
    (with `message`) after `timeout` seconds."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{message or predicate} not met within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - start


async def wait_until_async(
    predicate: Callable[[], object],
    timeout: float,
    message: str = "",
    *,
    interval: float = INTERVAL,
    in_thread: bool = False,
) -> float:
    """`wait_until` for a coroutine: the event loop keeps running between polls. With
    `in_thread`, `predicate` runs in a worker thread (for one that queries the database while
    the code under test runs on this loop)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not (await asyncio.to_thread(predicate) if in_thread else predicate()):
        if loop.time() - start > timeout:
            raise AssertionError(f"{message or predicate} not met within {timeout} s")
        await asyncio.sleep(interval)
    return loop.time() - start
