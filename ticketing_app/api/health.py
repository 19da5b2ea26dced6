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
from ticketing_app.db import read_session
from ticketing_app.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
TIMEOUT_SECONDS = 2.0


def _db_ok() -> bool:
    try:
        with read_session() as db:
            db.exec(sa.text("SELECT 1"))  # type: ignore[call-overload]
        return True
    except Exception as exc:  # any failure means "not serving"
        log.warning("health: database check failed: %s", exc)
        return False


async def _redis_ok(url: str) -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(  # no retries: a health check must answer quickly
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        return bool(await client.ping())
    except Exception as exc:
        log.warning("health: redis check failed: %s", exc)
        return False
    finally:
        await client.aclose()


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
    settings = get_settings()
    checks: dict[str, Any] = {"db": asyncio.ensure_future(run_in_threadpool(_db_ok))}
    if settings.redis_url:
        checks["redis"] = asyncio.ensure_future(_bounded(_redis_ok(settings.redis_url)))
    if settings.nats_url:
        checks["nats"] = asyncio.ensure_future(_bounded(_nats_ok(settings.nats_url)))
    results = {name: await task for name, task in checks.items()}
    if all(results.values()):
        return JSONResponse({"status": "ok", **results})
    down = ", ".join(name for name, ok in results.items() if not ok)
    body = {
        "status": "unavailable",
        **results,
        "errors": [{"message": f"Unavailable: {down}", "field": None}],
    }
    return JSONResponse(body, status_code=503)
