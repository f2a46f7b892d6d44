"""One event loop and one set of database engines per worker process, reused by every task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.config import get_settings
from lms.db.engines import Database, create_database
from lms.lib.faults import is_transient
from lms.lib.jobs import TenantHandler, tenant_job

T = TypeVar("T")

WORKER_APPLICATION_NAME = "lms-worker"

_runner: asyncio.Runner | None = None
_database: Database | None = None


class TransientFailure(Exception):
    """A job failed for a reason a retry after a pause gets past (a lost PostgreSQL or Redis
    connection, a server restarting). Tasks list it in `autoretry_for`."""


def database() -> Database:
    global _database
    if _database is None:
        # Pre-ping: a pooled connection that died with a PostgreSQL restart is replaced, not used.
        _database = create_database(get_settings(), pre_ping=True, application_name=WORKER_APPLICATION_NAME)
    return _database


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on this process's loop (engines are bound to the loop that made them);
    a transient failure is raised as TransientFailure so the task retries with backoff."""
    global _runner
    if _runner is None:
        _runner = asyncio.Runner()
    try:
        return _runner.run(coro)
    except TransientFailure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise TransientFailure(f"{type(exc).__name__}: {exc}"[:500]) from exc
        raise


def app_sessions() -> async_sessionmaker[AsyncSession]:
    return database().app_sessions


def tenant_task(name: str, **options: Any) -> Callable[[TenantHandler[T]], Any]:
    """`tenant_job` on this process's Celery app, sessions and loop: `name(tenant_id, entity_id)`."""
    from workers.app import celery_app

    return tenant_job(celery_app, name, sessions=app_sessions, run=run, **options)
