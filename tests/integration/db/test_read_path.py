"""The read path (lms.db.reads) keeps the session's tenant binding wherever it runs: on a connection of its
own (one statement that binds the tenant and reads in its implicit transaction, then the connection back
in the pool) or on the connection of the
session's open transaction. A refused statement leaves its connection usable; an interrupted read closes
its connection, so no transaction and no tenant binding outlives it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError, ProgrammingError

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.db.reads import ReadQuery, TenantReads, bound_to_tenant, fetch_all, fetch_one, fetch_row, fetch_row_as
from lms.identity.models import User, UserStatus
from tests.conftest import MakeTenant, MakeUser

EMAILS = ReadQuery(select(User.email).where(User.status == UserStatus.ACTIVE).order_by(User.email))
BY_ID = ReadQuery(select(User.email, User.status).where(User.id == bindparam("user_id")))
CURRENT_TENANT = "SELECT current_setting('app.tenant_id', true)"


def _logged(db: Database) -> tuple[list[str], Any]:
    """Every message asyncpg sends on a connection checked out while the returned listener is attached."""
    sent: list[str] = []

    def log(query: Any) -> None:
        sent.append(query.query)

    def on_checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if log not in driver._query_loggers:
            driver.add_query_logger(log)

    return sent, on_checkout


async def test_rows_are_read_only_under_the_sessions_tenant(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    mine, other = await make_tenant(), await make_tenant()
    user = await make_user(mine)
    await make_user(other)
    async with tenant_session(db.app_sessions, mine.id) as session:
        assert [row[0] for row in await fetch_all(session, EMAILS)] == [user.email]
        row = await fetch_one(session, BY_ID, {"user_id": user.id})
        assert row is not None
        assert (row[0], row[1]) == (user.email, "active")  # enums arrive as their database names
    async with tenant_session(db.app_sessions, other.id) as session:
        assert await fetch_one(session, BY_ID, {"user_id": user.id}) is None
    async with tenant_session(db.app_sessions, None) as session:
        assert await fetch_all(session, EMAILS) == []


async def test_outside_a_transaction_a_read_holds_a_connection_only_while_it_reads(
    db: Database, make_tenant: MakeTenant
) -> None:
    from sqlalchemy import event

    tenant = await make_tenant()
    sent, on_checkout = _logged(db)
    event.listen(db.app_engine.sync_engine, "checkout", on_checkout)
    try:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            row = await fetch_row(session, CURRENT_TENANT)
            assert row is not None
            assert row[0] == str(tenant.id)
            assert not session.in_transaction()  # the ORM session never began anything
            assert db.app_engine.pool.checkedout() == 0  # and the read's connection is back in the pool
            after = await fetch_row(session, CURRENT_TENANT)
            assert after is not None
            assert after[0] == str(tenant.id)
    finally:
        event.remove(db.app_engine.sync_engine, "checkout", on_checkout)
    # One statement per read, binding its tenant itself: no BEGIN, no COMMIT, one round trip each.
    assert sent == [bound_to_tenant(CURRENT_TENANT, 0)] * 2
    async with db.app_engine.connect() as connection:  # a pooled connection carries no tenant afterwards
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        assert await raw.fetchval(CURRENT_TENANT) in (None, "")


async def test_inside_a_transaction_a_read_sees_the_sessions_own_uncommitted_work(
    db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        session.add(User(tenant_id=tenant.id, email="new@example.test", display_name="New"))
        # Not flushed yet: the read flushes it, as a query of the session would.
        assert [row[0] for row in await fetch_all(session, EMAILS)] == ["new@example.test"]
        assert db.app_engine.pool.checkedout() == 1  # the session's connection, no second one
        await session.rollback()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await fetch_all(session, EMAILS) == []


async def test_a_refused_statement_is_raised_as_sqlalchemy_raises_it_and_the_connection_stays_usable(
    db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        before = db.app_engine.pool.checkedin()
        with pytest.raises(ProgrammingError):
            await fetch_row(session, "SELECT no_such_column FROM users")
        assert db.app_engine.pool.checkedin() == before  # rolled back and returned, not closed
        row = await fetch_row(session, CURRENT_TENANT)
        assert row is not None
        assert row[0] == str(tenant.id)


async def test_a_cancelled_read_closes_its_connection_instead_of_returning_it(
    db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        first = await fetch_row(session, "SELECT pg_backend_pid()")  # the pool holds this connection now
        read = asyncio.ensure_future(fetch_row(session, "SELECT pg_sleep(5)"))
        await asyncio.sleep(0.3)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        assert db.app_engine.pool.checkedout() == 0
        row = await fetch_row(session, "SELECT pg_backend_pid(), current_setting('app.tenant_id', true)")
        assert row is not None
        assert first is not None
        assert row[0] != first[0]  # a fresh connection: the interrupted one was closed, not reused
        assert row[1] == str(tenant.id)


async def test_a_missing_parameter_is_named_and_expanding_lists_are_refused() -> None:
    with pytest.raises(KeyError, match="user_id"):
        BY_ID.arguments({})
    with pytest.raises(ValueError, match="ANY"):
        ReadQuery(select(User.id).where(User.id.in_(bindparam("ids", expanding=True))))


async def test_a_dropped_connection_is_a_dbapi_error_that_marks_it_invalidated(
    db: Database, make_tenant: MakeTenant, settings: Any
) -> None:
    import psycopg

    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        pid = (await fetch_row(session, "SELECT pg_backend_pid()"))[0]
        with psycopg.connect(settings.database_url or "", autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (pid,))
        await asyncio.sleep(0.2)
        with pytest.raises(DBAPIError) as raised:
            await fetch_row(session, CURRENT_TENANT)
        assert raised.value.connection_invalidated
        row = await fetch_row(session, CURRENT_TENANT)  # the pool opened a new connection
        assert row is not None
        assert row[0] == str(tenant.id)


async def test_a_read_without_a_session_is_bound_to_the_given_tenant(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    mine, other = await make_tenant(), await make_tenant()
    user = await make_user(mine)
    by_id = "SELECT email FROM users WHERE id = $1"
    row = await fetch_row_as(db.app_engine, mine.id, by_id, user.id)
    assert row is not None
    assert row[0] == user.email
    assert await fetch_row_as(db.app_engine, other.id, by_id, user.id) is None
    assert await fetch_row_as(db.app_engine, None, by_id, user.id) is None
    assert db.app_engine.pool.checkedout() == 0


async def test_jobs_queued_by_a_session_that_began_nothing_are_still_sent(
    db: Database, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lms.lib import jobs

    sent: list[str] = []
    monkeypatch.setattr(jobs, "send_now", lambda job, sender=None: sent.append(job.name))
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await fetch_row(session, CURRENT_TENANT)  # a read on its own connection: the session begins nothing
        jobs.enqueue_after_commit(session, "lms.example", "id")
    assert sent == ["lms.example"]


async def test_a_bound_read_keeps_its_own_order_limits_and_columns(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    emails = sorted([(await make_user(tenant)).email for _ in range(5)], reverse=True)
    await make_user(other)
    # A CTE, ORDER BY ... LIMIT/OFFSET and two columns of the same name, as compiled reads have.
    mine = (
        select(User.id, User.email)
        .order_by(User.email.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .cte("mine")
    )
    query = ReadQuery(
        select(mine.c.email, User.email, func.current_setting("app.tenant_id", True))
        .join(User, User.id == mine.c.id)
        .order_by(mine.c.email.desc())
    )
    rows = await fetch_all(TenantReads(db.app_engine, tenant.id), query, {"limit": 3, "offset": 1})
    assert [tuple(row) for row in rows] == [(email, email, str(tenant.id)) for email in emails[1:4]]
    assert await fetch_all(TenantReads(db.app_engine, None), query, {"limit": 3, "offset": 0}) == []


async def test_interleaved_reads_of_two_tenants_on_shared_connections_see_only_their_own(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenants = [await make_tenant(), await make_tenant()]
    emails = {tenant.id: sorted([(await make_user(tenant)).email for _ in range(3)]) for tenant in tenants}

    # Three times more reads than the pool keeps, as many at a time as it has connections: each
    # connection passes from one tenant's read to the other's (more at once would only measure how
    # long a busy machine makes them wait for the pool).
    at_once = asyncio.Semaphore(db.app_engine.pool.size())  # type: ignore[attr-defined]

    async def read(n: int) -> tuple[Any, list[str]]:
        tenant = tenants[n % 2]
        async with at_once:
            return tenant.id, [row[0] for row in await fetch_all(TenantReads(db.app_engine, tenant.id), EMAILS)]

    results = await asyncio.gather(*(read(n) for n in range(60)))
    assert all(found == emails[tenant_id] for tenant_id, found in results)
    async with db.app_engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        assert await raw.fetchval(CURRENT_TENANT) in (None, "")
