"""Every tenant-owned table, as tenant A: B's rows are invisible and untouchable; unbound: nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lms.db.base import metadata
from lms.db.binding import bind_tenant, tenant_session
from lms.db.engines import Database
from tests.conftest import MakeTenant
from tests.factories import ROW_FACTORIES

TENANT_TABLES = sorted(t.name for t in metadata.sorted_tables if "tenant_id" in t.columns)


def test_every_tenant_table_has_a_row_factory() -> None:
    missing = [t for t in TENANT_TABLES if t not in ROW_FACTORIES]
    assert not missing, f"add a row factory in tests/factories.py for: {missing}"


async def _rows(db: Database, make_tenant: MakeTenant, table: str) -> tuple[Any, Any, Any, Any]:
    a, b = await make_tenant(), await make_tenant()
    async with tenant_session(db.app_sessions, a.id) as session:
        row_a = await ROW_FACTORIES[table](session, a.id)
    async with tenant_session(db.app_sessions, b.id) as session:
        row_b = await ROW_FACTORIES[table](session, b.id)
    return a, b, row_a, row_b


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_other_tenants_rows_are_invisible(db: Database, make_tenant: MakeTenant, table: str) -> None:
    a, b, row_a, row_b = await _rows(db, make_tenant, table)
    async with tenant_session(db.app_sessions, a.id) as session:
        ids = set((await session.execute(text(f"select id from {table}"))).scalars())
        by_tenant = (
            await session.execute(text(f"select count(*) from {table} where tenant_id = :b"), {"b": b.id})
        ).scalar_one()
    assert row_a.id in ids
    assert row_b.id not in ids
    assert by_tenant == 0


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_other_tenants_rows_cannot_be_updated_or_deleted(
    db: Database, make_tenant: MakeTenant, table: str
) -> None:
    a, b, _, row_b = await _rows(db, make_tenant, table)
    async with tenant_session(db.app_sessions, a.id) as session:
        updated = await session.execute(
            text(f"update {table} set tenant_id = tenant_id where id = :id"), {"id": row_b.id}
        )
        deleted = await session.execute(text(f"delete from {table} where id = :id"), {"id": row_b.id})
    assert updated.rowcount == 0  # type: ignore[attr-defined]
    assert deleted.rowcount == 0  # type: ignore[attr-defined]
    async with tenant_session(db.app_sessions, b.id) as session:
        still_there = (
            await session.execute(text(f"select count(*) from {table} where id = :id"), {"id": row_b.id})
        ).scalar_one()
    assert still_there == 1


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_rows_cannot_be_written_into_another_tenant(db: Database, make_tenant: MakeTenant, table: str) -> None:
    a, b, row_a, _ = await _rows(db, make_tenant, table)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_session(db.app_sessions, a.id) as session:
            await ROW_FACTORIES[table](session, b.id)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_session(db.app_sessions, a.id) as session:
            await session.execute(
                text(f"update {table} set tenant_id = :b where id = :id"), {"b": b.id, "id": row_a.id}
            )


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_no_tenant_bound_sees_and_writes_nothing(db: Database, make_tenant: MakeTenant, table: str) -> None:
    a, _, row_a, _ = await _rows(db, make_tenant, table)
    async with tenant_session(db.app_sessions, None) as session:
        count = (await session.execute(text(f"select count(*) from {table}"))).scalar_one()
        deleted = await session.execute(text(f"delete from {table} where id = :id"), {"id": row_a.id})
    assert count == 0
    assert deleted.rowcount == 0  # type: ignore[attr-defined]
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_session(db.app_sessions, None) as session:
            await ROW_FACTORIES[table](session, a.id)


async def test_tenant_row_is_visible_only_to_itself(db: Database, make_tenant: MakeTenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    async with tenant_session(db.app_sessions, a.id) as session:
        visible = set((await session.execute(text("select id from tenants"))).scalars())
    assert visible == {a.id}
    with pytest.raises(DBAPIError, match="permission denied"):
        async with tenant_session(db.app_sessions, a.id) as session:
            await session.execute(text("update tenants set name = 'x' where id = :b"), {"b": b.id})


async def test_binding_survives_commit_and_never_leaks_through_the_pool(db: Database, make_tenant: MakeTenant) -> None:
    """One pooled connection: a request of A commits twice, then the next request sees nothing of A."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    single = create_async_engine(db.app_engine.url, pool_size=1, max_overflow=0)
    sessions = async_sessionmaker(single, expire_on_commit=False)
    a = await make_tenant()
    try:
        async with sessions() as session:
            bind_tenant(session, a.id)
            first = await ROW_FACTORIES["users"](session, a.id)
            await session.commit()
            # a new transaction in the same request is still bound to A
            second = await ROW_FACTORIES["users"](session, a.id)
            await session.commit()
            seen = (await session.execute(text("select count(*) from users"))).scalar_one()
            backend = (await session.execute(text("select pg_backend_pid()"))).scalar_one()
            await session.commit()
        assert first.id != second.id
        assert seen == 2
        async with sessions() as session:
            same_backend = (await session.execute(text("select pg_backend_pid()"))).scalar_one()
            leaked = (await session.execute(text("select count(*) from users"))).scalar_one()
            setting = (await session.execute(text("select current_setting('app.tenant_id', true)"))).scalar()
        assert same_backend == backend
        assert leaked == 0
        assert setting in (None, "")
    finally:
        await single.dispose()
