"""A serving process's pool is opened before its first request: the connections exist, know the
schema's enum types (a request's first statement sends no type introspection), and a database that
cannot be reached does not keep the process from starting."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text

from lms.config import Settings
from lms.db.engines import Database, create_database
from lms.db.warm import enum_types_statement, warm_pool


@pytest.fixture
async def named_db(settings: Settings) -> AsyncIterator[tuple[Database, str]]:
    name = f"warm-{uuid.uuid4().hex[:8]}"
    database = create_database(settings, application_name=name)
    yield database, name
    await database.dispose()


async def backends_named(db: Database, name: str) -> int:
    """The app role's connections of `db` (the operator's session asking is left out)."""
    async with db.operator_sessions() as session:
        query = text("select count(*) from pg_stat_activity where application_name = :name and usename <> current_user")
        return int((await session.execute(query, {"name": name})).scalar_one())


async def test_warming_opens_the_connections_before_any_request(named_db: tuple[Database, str]) -> None:
    db, name = named_db
    assert await backends_named(db, name) == 0
    assert await warm_pool(db.app_engine, 5) == 5
    assert db.app_engine.pool.checkedin() == 5  # type: ignore[attr-defined]
    assert await backends_named(db, name) == 5


async def test_a_warmed_connection_sends_no_type_introspection(
    named_db: tuple[Database, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = named_db
    await warm_pool(db.app_engine, 1)
    introspected: list[Any] = []
    original = asyncpg.Connection._introspect_types

    async def counting(self: asyncpg.Connection, typeoids: Any, timeout: Any) -> Any:
        introspected.append(typeoids)
        return await original(self, typeoids, timeout)

    monkeypatch.setattr(asyncpg.Connection, "_introspect_types", counting)
    async with db.app_engine.connect() as connection:
        statuses = "select 'published'::course_status, 'active'::enrollment_status, 'revoked'::certificate_state"
        assert (await connection.exec_driver_sql(statuses)).one() == ("published", "active", "revoked")
    assert introspected == []


def test_the_warming_statement_names_every_enum_type_of_the_schema() -> None:
    statement = enum_types_statement()
    for name in ("course_status", "enrollment_status", "progress_status", "tenant_status", "lesson_type"):
        assert f"null::{name}" in statement


async def test_an_unreachable_database_is_logged_and_the_process_starts(
    settings: Settings,
) -> None:
    unreachable = replace(settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    db = create_database(unreachable)
    try:
        with warnings_of("lms.db.warm") as logged:
            warmed = await asyncio.wait_for(warm_pool(db.app_engine, 3), timeout=30)
    finally:
        await db.dispose()
    assert warmed == 0
    assert any("database pool not warmed" in message for message in logged)


@contextmanager
def warnings_of(name: str) -> Iterator[list[str]]:
    """The warnings logger `name` writes meanwhile, read on the logger itself: whatever logging set-up
    an earlier test of this process left (levels, root handlers) does not hide them."""
    logger, messages = logging.getLogger(name), []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    previous = logger.level, logger.disabled
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.disabled = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.disabled = previous[1]
