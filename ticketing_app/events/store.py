"""Outbox reads and writes for the relay and the CLI (plain SQL on the engine, no ORM session,
so marking rows published never triggers the in-process after-commit handlers)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select

from ticketing_app.db import get_engine
from ticketing_app.models import DomainEvent

_columns = DomainEvent.__table__.c  # type: ignore[attr-defined]


def _rows(url: str, query: sa.Select) -> list[DomainEvent]:
    with get_engine(url).connect() as conn:
        return [DomainEvent.model_validate(dict(r._mapping)) for r in conn.execute(query)]


def fetch_unpublished(url: str, *, limit: int) -> list[DomainEvent]:
    """The oldest unpublished events, in outbox order (`seq`)."""
    query = (
        select(DomainEvent)
        .where(_columns.published_at.is_(None))
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
            sa.update(DomainEvent.__table__)  # type: ignore[arg-type]
            .where(_columns.seq.in_(seqs), _columns.published_at.is_(None))
            .values(published_at=now)
        ).rowcount


def fetch_since(
    url: str, *, since_seq: int | None = None, since_time: datetime | None = None, limit: int
) -> list[DomainEvent]:
    """Events with seq > since_seq and/or created at or after since_time, in outbox order."""
    query = select(DomainEvent).order_by(_columns.seq).limit(limit)
    if since_seq is not None:
        query = query.where(_columns.seq > since_seq)
    if since_time is not None:
        query = query.where(_columns.created_at >= since_time)
    return _rows(url, query)


def count_unpublished(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            select(sa.func.count()).select_from(DomainEvent).where(_columns.published_at.is_(None))
        ).scalar_one()
