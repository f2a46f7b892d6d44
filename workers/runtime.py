"""One event loop and one set of database engines per worker process, reused by every task."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from lms.config import get_settings
from lms.db.engines import Database, create_database

T = TypeVar("T")

_runner: asyncio.Runner | None = None
_database: Database | None = None


def database() -> Database:
    global _database
    if _database is None:
        _database = create_database(get_settings())
    return _database


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on this process's loop (engines are bound to the loop that made them)."""
    global _runner
    if _runner is None:
        _runner = asyncio.Runner()
    return _runner.run(coro)
