"""Progress events the fold could not store: recorded under their tenant, listed and counted for operators.

A poisoned event must never stall the stream (least of all another tenant's events), so the fold
sets it aside here with the raw event and the reason, and folds everything else.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec
import structlog
from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.engines import Database
from lms.learning.models import ProgressDeadLetter
from lms.lib.pagination import Page

MAX_TEXT = 8000  # a letter is for reading; a megabyte of garbage is cut

# Read from the database at each scrape: the letters are written by workers, not by this process.
DEAD_LETTERS = Gauge("lms_progress_dead_letters", "Progress events the fold set aside, all tenants")
log = structlog.get_logger("lms.learning.services.dead_letters")


@dataclass(frozen=True)
class DeadLetter:
    stream_entry_id: str
    event_index: int
    user_id: UUID | None
    raw_event: str | bytes
    reason: str


class DeadLetterOut(msgspec.Struct):
    id: UUID
    tenant_id: UUID
    source: str
    user_id: UUID | None
    stream_entry_id: str
    event_index: int
    raw_event: str
    reason: str
    created_at: datetime


def storable_text(value: str | bytes) -> str:
    """Text PostgreSQL can hold: invalid UTF-8 and NUL shown as escapes, length bounded."""
    text = value.decode("utf-8", errors="backslashreplace") if isinstance(value, bytes) else value
    return text.replace("\x00", "\\u0000")[:MAX_TEXT]


async def record_dead_letters(session: AsyncSession, tenant_id: UUID, letters: list[DeadLetter]) -> None:
    """Insert the letters in the session's (tenant-bound) transaction; a redelivered one is kept once."""
    if not letters:
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "user_id": letter.user_id,
            "stream_entry_id": letter.stream_entry_id,
            "event_index": letter.event_index,
            "raw_event": storable_text(letter.raw_event),
            "reason": storable_text(letter.reason),
        }
        for letter in letters
    ]
    await session.execute(insert(ProgressDeadLetter).values(rows).on_conflict_do_nothing())


async def list_dead_letters(
    session: AsyncSession, tenant_id: UUID | None, limit: int, offset: int
) -> Page[DeadLetterOut]:
    """Newest first, across tenants or for one; `session` is the operator's (platform-wide) one."""
    query = select(ProgressDeadLetter)
    count = select(func.count()).select_from(ProgressDeadLetter)
    if tenant_id is not None:
        query = query.where(ProgressDeadLetter.tenant_id == tenant_id)
        count = count.where(ProgressDeadLetter.tenant_id == tenant_id)
    newest_first = query.order_by(ProgressDeadLetter.created_at.desc(), ProgressDeadLetter.id.desc())
    rows = (await session.execute(newest_first.limit(limit).offset(offset))).scalars()
    items = [
        DeadLetterOut(
            id=row.id,
            tenant_id=row.tenant_id,
            source="progress",
            user_id=row.user_id,
            stream_entry_id=row.stream_entry_id,
            event_index=row.event_index,
            raw_event=row.raw_event,
            reason=row.reason,
            created_at=row.created_at,
        )
        for row in rows
    ]
    return Page(items=items, total=(await session.execute(count)).scalar_one(), limit=limit, offset=offset)


async def count_dead_letters(session: AsyncSession) -> int:
    """All tenants' letters (operator session): the figure `/metrics` reports."""
    return (await session.execute(select(func.count()).select_from(ProgressDeadLetter))).scalar_one()


async def refresh_dead_letter_gauge(db: Database) -> None:
    """The current count for `/metrics` (the last known one if the database is away)."""
    try:
        async with db.operator_sessions() as session:
            DEAD_LETTERS.set(await count_dead_letters(session))
    except Exception as exc:
        log.warning("dead letter count unavailable", error=str(exc)[:300])


async def keep_dead_letter_gauge_fresh(db: Database, every_seconds: float = 30.0) -> None:
    """Each API process refreshes the gauge in the background: the metrics listener is a plain thread
    that cannot query the database at scrape time."""
    while True:
        await refresh_dead_letter_gauge(db)
        await asyncio.sleep(every_seconds)
