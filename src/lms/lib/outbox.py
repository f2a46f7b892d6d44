"""One writer for every outbox table: a row in the caller's transaction, written once per dedupe key.

Outbox tables lead with `(tenant_id, dedupe_key)` unique, so a retried request or a redelivered job
writes nothing twice; the caller sends its job only when this call wrote the row.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib import clock
from lms.lib.ids import new_id


async def write_once(
    session: AsyncSession, table: Table, tenant_id: UUID, dedupe_key: str, **values: Any
) -> UUID | None:
    """Insert the entry unless one with this dedupe key exists; its new id, or None when it existed."""
    at = clock.now()
    entry_id = new_id()
    statement = (
        pg_insert(table)
        .values(
            id=entry_id,
            tenant_id=tenant_id,
            dedupe_key=dedupe_key[:200],
            created_at=at,
            updated_at=at,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
        .returning(text("id"))
    )
    written = (await session.execute(statement)).first() is not None
    return entry_id if written else None


async def write_each_once(
    session: AsyncSession, table: Table, tenant_id: UUID, entries: list[tuple[str, dict[str, Any]]]
) -> None:
    """`write_once` of several entries (dedupe key, values) in one statement; those that exist are skipped.
    Every entry names the same columns."""
    if not entries:
        return
    at = clock.now()
    rows = [
        {"id": new_id(), "tenant_id": tenant_id, "dedupe_key": key[:200], "created_at": at, "updated_at": at, **values}
        for key, values in entries
    ]
    await session.execute(
        pg_insert(table).values(rows).on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
    )
