"""GET /api/health: is this backend able to serve? For load balancers and operators.

Checks the database always, and Redis / NATS when they are configured (REDIS_URL / NATS_URL),
each with a short timeout. 200 when everything configured answers, 503 otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ticketing_app.api.schemas import HealthOut
from ticketing_app.db import DriverQuery, get_engine
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
TIMEOUT_SECONDS = 2.0


# One statement straight on a pooled DBAPI connection (SQLite: the process's point-read
# connection): a session and its transaction cost several times the round trip itself.
_PING = DriverQuery(sa.select(sa.literal_column("1")))


def _db_ok() -> bool:
    try:
        return _PING.first(get_engine(), {}) is not None
    except Exception as exc:  # any failure means "not serving"
        log.warning("health: database check failed: %s", exc)
        return False


_redis_clients: dict[tuple[str, int], Any] = {}


async def _redis_ok(url: str) -> bool:
    """PING on a client kept per event loop (a new client per check paid a TCP connect)."""
    from redis.asyncio import Redis

    key = (url, id(asyncio.get_running_loop()))
    client = _redis_clients.get(key)
    if client is None:
        client = _redis_clients[key] = Redis.from_url(  # no retries: answer quickly
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
    try:
        return bool(await client.ping())
    except Exception as exc:
        log.warning("health: redis check failed: %s", exc)
        _redis_clients.pop(key, None)
        await client.aclose()
        return False


async def _nats_ok(url: str) -> bool:
    """A NATS server greets every new connection with an `INFO {...}` line; wait for it.
    (Cheaper and more predictable than a full client connect, which retries on its own.)"""
    first = urlparse(url.split(",")[0].strip())
    writer = None
    try:
        reader, writer = await asyncio.open_connection(
            first.hostname or "127.0.0.1", first.port or 4222
        )
        line = await reader.readline()
        return line.startswith(b"INFO")
    except Exception as exc:
        log.warning("health: nats check failed: %s", exc)
        return False
    finally:
        if writer is not None:
            writer.close()


async def _bounded(check: Awaitable[bool]) -> bool:
    try:
        return await asyncio.wait_for(check, TIMEOUT_SECONDS + 1)
    except TimeoutError:
        return False


@router.get(
    "/api/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A required backing service is down"}},
    summary="Liveness and dependencies: database, and Redis/NATS when configured",
)
async def health() -> JSONResponse:
    status, body = await check()
    return JSONResponse(body, status_code=status)


async def check() -> tuple[int, dict[str, Any]]:
    """(status, body) of the health check; also answered in front of FastAPI (api/fastpath)."""
    settings = get_settings()
    if settings.is_sqlite and not settings.redis_url and not settings.nats_url:
        # SQLite answers in microseconds in this process: no thread hop, no tasks.
        return (200, OK) if _db_ok() else _unavailable({"db": False})
    # One check at a time per worker: requests arriving while one is under way share its
    # answer (at most one round trip old), instead of queueing a database ping each.
    loop_key = id(asyncio.get_running_loop())
    shared = _inflight.get(loop_key)
    if shared is None:
        shared = _inflight[loop_key] = asyncio.ensure_future(_check_all())
        shared.add_done_callback(lambda _done: _inflight.pop(loop_key, None))
    results = await asyncio.shield(shared)
    if all(results.values()):
        return 200, {"status": "ok", **results}
    return _unavailable(results)


_inflight: dict[int, asyncio.Future[dict[str, bool]]] = {}


async def _check_all() -> dict[str, bool]:
    settings = get_settings()
    checks: dict[str, Any] = {"db": asyncio.ensure_future(run_in_threadpool(_db_ok))}
    if settings.redis_url:
        checks["redis"] = asyncio.ensure_future(_bounded(_redis_ok(settings.redis_url)))
    if settings.nats_url:
        checks["nats"] = asyncio.ensure_future(_bounded(_nats_ok(settings.nats_url)))
    return {name: await task for name, task in checks.items()}


OK = {"status": "ok", "db": True}


def _unavailable(results: dict[str, bool]) -> tuple[int, dict[str, Any]]:
    down = ", ".join(name for name, ok in results.items() if not ok)
    body = {
        "status": "unavailable",
        **results,
        "errors": [{"message": f"Unavailable: {down}", "field": None}],
    }
    return 503, body
