"""A serving process opens its pool's connections before its first request.

A new connection costs 10 to 20 ms: a PostgreSQL backend started and authenticated, then asyncpg's type
introspection, a catalogue query it runs the first time a statement of that connection meets one of
the schema's enum types. Opened lazily, those costs land on the first users of a fresh process, all
at once when a deployment starts under traffic (the launch load test's first second: p95 of 200 to 400
ms). Warmed at start-up, they are paid before the process takes traffic.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lms.db.base import Base

log = logging.getLogger("lms.db.warm")


@cache
def enum_types_statement() -> str:
    """One statement whose result has a column of each of the schema's enum types: running it makes
    asyncpg learn them all in one introspection."""
    names: set[str] = set()
    for table in Base.metadata.tables.values():
        for column in table.columns:
            kind = column.type.item_type if isinstance(column.type, sa.ARRAY) else column.type
            if isinstance(kind, sa.Enum) and kind.native_enum and kind.name:
                names.add(kind.name)
    columns = ", ".join(f"null::{name}" for name in sorted(names)) or "1"
    return f"select {columns}"


async def warm_pool(engine: AsyncEngine, connections: int) -> int:
    """Open `connections` connections of `engine`'s pool side by side, each taught the enum types,
    and check them in; returns how many were opened. A database that cannot be reached is logged
    and left to the requests (they answer 503 until it is back)."""
    opened = [engine.connect() for _ in range(connections)]
    try:
        await asyncio.gather(*(_teach(connection) for connection in opened))
    except Exception as exc:  # start anyway: readiness reports the database
        log.warning("database pool not warmed: %s", exc)
        return 0
    finally:
        await asyncio.gather(*(connection.close() for connection in opened), return_exceptions=True)
    return connections


async def _teach(connection: AsyncConnection) -> None:
    await connection.start()
    await connection.exec_driver_sql(enum_types_statement())
