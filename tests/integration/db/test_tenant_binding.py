"""Binding the tenant costs no round trip of its own: BEGIN and set_config travel as one message,
and the tenant is still transaction-local (applied again to every transaction, gone after it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.binding import bind_tenant, tenant_session
from lms.db.engines import Database
from lms.tenancy.models import Tenant
from tests.conftest import MakeTenant

CURRENT = text("select current_setting('app.tenant_id', true)")


async def test_one_read_is_three_round_trips_with_the_tenant_bound(db: Database, make_tenant: MakeTenant) -> None:
    tenant: Tenant = await make_tenant()
    simple: list[str] = []  # simple-protocol messages (asyncpg logs these)
    prepared: list[str] = []  # statements SQLAlchemy sent as prepared statements

    def record_simple(query: Any) -> None:
        simple.append(query.query)

    def record_prepared(*args: Any) -> None:
        prepared.append(args[2])

    async with db.app_engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        raw.add_query_logger(record_simple)
        event.listen(connection.sync_connection, "before_cursor_execute", record_prepared)
        session = AsyncSession(bind=connection)
        bind_tenant(session, tenant.id)
        bound = (await session.execute(CURRENT)).scalar_one()
        await session.commit()
        again = (await session.execute(CURRENT)).scalar_one()
        await session.commit()
        await session.close()
        raw.remove_query_logger(record_simple)
    assert bound == again == str(tenant.id)
    begin = f"BEGIN; SELECT set_config('app.tenant_id', '{tenant.id}', true)"
    assert simple == [begin, "COMMIT", begin, "COMMIT"]
    assert prepared == [CURRENT.text, CURRENT.text]


async def test_the_tenant_does_not_outlive_its_transaction(db: Database, make_tenant: MakeTenant) -> None:
    tenant: Tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        assert (await session.execute(CURRENT)).scalar_one() == str(tenant.id)
        await session.commit()
        # Outside any transaction the connection carries no tenant (what the next pool user would see).
        assert (await raw.fetchval("select current_setting('app.tenant_id', true)")) in (None, "")


async def test_a_failed_statement_rolls_back_and_the_next_transaction_is_bound(
    db: Database, make_tenant: MakeTenant
) -> None:
    tenant: Tenant = await make_tenant()
    async with db.app_sessions() as session:
        bind_tenant(session, tenant.id)
        try:
            await session.execute(text("select 1/0"))
        except DBAPIError:  # the division error is the point
            await session.rollback()
        assert (await session.execute(CURRENT)).scalar_one() == str(tenant.id)
        await session.rollback()
