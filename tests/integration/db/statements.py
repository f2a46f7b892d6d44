"""Count the statements a request sends to PostgreSQL, at the driver (the ORM's and the read path's alike)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from sqlalchemy import event


@contextmanager
def statements_sent(app: Litestar) -> Iterator[list[str]]:
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
        import os

        if os.environ.get("QC_DEBUG"):
            print("RAW", [s[:40] for s in sent])
        own.extend(s for s in sent if not s.startswith(("BEGIN", "COMMIT")) and "recently_revoked_" not in s)
