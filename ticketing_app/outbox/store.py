"""Outbox reads and writes for the relay and the CLI (plain SQL on the engine, no ORM session,
so marking rows published never triggers the in-process after-commit handlers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ticketing_app.db import get_engine
from ticketing_app.models import DomainEvent

_table: sa.Table = DomainEvent.__table__  # type: ignore[attr-defined]
_columns = _table.c


OutboxRow = sa.Row[Any]
"""A domain_events row with attribute access (`row.seq`, `row.payload`…); plain rows, not ORM
objects, because building 1,000 SQLModel instances costs more than publishing them."""


def _rows(url: str, query: sa.Select[Any]) -> list[OutboxRow]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(query))


def fetch_unpublished(url: str, *, limit: int, after_seq: int = 0) -> list[OutboxRow]:
    """The oldest unpublished events after `after_seq`, in outbox order (`seq`)."""
    query = (
        sa.select(_table)
        .where(_columns.published_at.is_(None), _columns.seq > after_seq)
        .order_by(_columns.seq)
        .limit(limit)
    )
    return _rows(url, query)


def mark_published(url: str, seqs: list[int], *, now: datetime) -> int:
    """Stamp `published_at` on the given rows (idempotent: already-stamped rows keep theirs)."""
    if not seqs:
        return 0
    with get_engine(url).begin() as conn:
        return conn.execute(
            sa.update(_table)
            .where(_columns.seq.in_(seqs), _columns.published_at.is_(None))
            .values(published_at=now)
        ).rowcount


def fetch_since(
    url: str, *, since_seq: int | None = None, since_time: datetime | None = None, limit: int
) -> list[OutboxRow]:
    """Events with seq > since_seq and/or created at or after since_time, in outbox order."""
    query = sa.select(_table).order_by(_columns.seq).limit(limit)
    if since_seq is not None:
        query = query.where(_columns.seq > since_seq)
    if since_time is not None:
        query = query.where(_columns.created_at >= since_time)
    return _rows(url, query)


def count_unpublished(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(_table).where(_columns.published_at.is_(None))
        ).scalar_one()
