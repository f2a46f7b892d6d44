"""Count the statements a request sends to PostgreSQL, at the driver (the ORM's and the read path's alike)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from sqlalchemy import event


@asynccontextmanager
async def statements_sent(app: Litestar) -> AsyncIterator[list[str]]:
    """Every statement sent while the block runs, except BEGIN (with the tenant binding, one message),
    COMMIT and the cached token-revocation reads."""
    sent: list[str] = []

    def record(query: Any) -> None:
        sent.append(query.query)

    def record_prepared(*args: Any) -> None:
        sent.append(args[2])

    # What SQLAlchemy sends (prepared statements, which asyncpg does not log) and what reaches asyncpg
    # by any other path (lms.db.reads, the BEGIN and COMMIT messages), so every statement counts once.
    def log_connection(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if record not in driver._query_loggers:
            driver.add_query_logger(record)

    engine = app.state.db.app_engine.sync_engine
    event.listen(engine, "checkout", log_connection)
    event.listen(engine, "before_cursor_execute", record_prepared)
    own: list[str] = []
    try:
        yield own
    finally:
        event.remove(engine, "checkout", log_connection)
        event.remove(engine, "before_cursor_execute", record_prepared)
        # asyncpg calls its query loggers soon after a query (call_soon on the app's loop), not during it:
        # wait until no more arrive.
        for _ in range(50):
            seen = len(sent)
            await asyncio.sleep(0.01)
            if seen and len(sent) == seen:
                break
        own.extend(s for s in sent if not s.startswith(("BEGIN", "COMMIT")) and "recently_revoked_" not in s)
