"""Engines and session factories, one per database role."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from lms.config import Settings, async_url
from lms.lib.jobs import job_sender_info


@dataclass
class Database:
    """`app` serves tenant requests under RLS; `operator` is the audited platform-wide path."""

    app_engine: AsyncEngine
    operator_engine: AsyncEngine
    app_sessions: async_sessionmaker[AsyncSession]
    operator_sessions: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.app_engine.dispose()
        await self.operator_engine.dispose()


def create_database(settings: Settings, *, pre_ping: bool = False, application_name: str | None = None) -> Database:
    """`pre_ping` (workers): test a pooled connection before use, so the first job after a
    PostgreSQL restart gets a fresh connection instead of a dead one. `application_name` shows
    in pg_stat_activity which process a connection belongs to."""
    app_engine = _engine(
        settings.role_url("lms_app"),
        settings.db_pool_size,
        settings.db_pool_overflow,
        settings.db_pool_timeout,
        pre_ping,
        application_name,
    )
    operator_engine = _engine(
        settings.role_url("lms_operator"), 2, 2, settings.db_pool_timeout, pre_ping, application_name
    )
    return Database(
        app_engine=app_engine,
        operator_engine=operator_engine,
        # Each session carries the queue of these settings, for the jobs it queues after commit.
        app_sessions=async_sessionmaker(app_engine, expire_on_commit=False, info=job_sender_info(settings)),
        operator_sessions=async_sessionmaker(operator_engine, expire_on_commit=False, info=job_sender_info(settings)),
    )


def _engine(
    url: str,
    pool_size: int,
    overflow: int,
    timeout: float,
    pre_ping: bool = False,
    application_name: str | None = None,
) -> AsyncEngine:
    """`timeout`: the longest wait for a free connection (then sqlalchemy.exc.TimeoutError, answered 503).

    Connections are opened as requests need them, up to `pool_size + overflow`, and kept: a burst's extra
    connections are not closed when it ebbs. Closing one on return and opening another at the next request
    (a PostgreSQL backend started, authenticated, its types introspected and every statement prepared
    again) cost more CPU than the request itself whenever the concurrency hovered above `pool_size`. Most
    recently returned first (LIFO), so the connections in use are the warm ones."""
    connect_args = {"server_settings": {"application_name": application_name}} if application_name else {}
    return create_async_engine(
        async_url(url),
        pool_size=pool_size + overflow,
        max_overflow=0,
        pool_use_lifo=True,
        pool_timeout=timeout,
        pool_recycle=1800,
        pool_pre_ping=pre_ping,
        connect_args=connect_args,
        # JSONB columns decoded by msgspec: the same values as json.loads, several times faster.
        json_deserializer=msgspec.json.decode,
    )
