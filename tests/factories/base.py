"""Row factories for every tenant-owned table, used by the RLS suite and by domain tests.

Each tenant table registers one factory: `async (session, tenant_id) -> row`. The RLS coverage test
fails for a tenant table without a factory, so new tables cannot skip the isolation suite.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

RowFactory = Callable[[AsyncSession, UUID], Awaitable[Any]]
ROW_FACTORIES: dict[str, RowFactory] = {}


def row_factory(table: str) -> Callable[[RowFactory], RowFactory]:
    def register(fn: RowFactory) -> RowFactory:
        ROW_FACTORIES[table] = fn
        return fn

    return register


async def add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row
