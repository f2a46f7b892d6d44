"""Bind a session to a tenant for every transaction it begins.

The tenant is applied in an `after_begin` listener with `set_config(..., true)`, i.e. local to the
transaction: it survives commits inside a request (each new transaction sets it again) and can
never leak to the next user of a pooled connection.

On asyncpg the listener sends `BEGIN; SELECT set_config(...)` as one simple-query message, so binding
the tenant costs no round trip of its own. (Sessionless reads, lms.db.reads, bind inside the read's own
statement instead: one round trip.)
The tenant id is a `UUID`, rendered canonically, so inlining it cannot inject SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

TENANT_KEY = "tenant_id"
_SET_TENANT = text("select set_config('app.tenant_id', :tenant_id, true)")


def begin_statement(tenant_id: UUID | None) -> str:
    """`BEGIN` and the tenant binding as one simple-query message (one round trip). The tenant id is
    re-rendered as a canonical UUID, so inlining it cannot inject SQL."""
    if tenant_id is None:
        return "BEGIN"
    return f"BEGIN; SELECT set_config('app.tenant_id', '{UUID(str(tenant_id))}', true)"


class _BegunTransaction:
    """Stands in for asyncpg's Transaction once BEGIN was sent by hand: SQLAlchemy's asyncpg adapter
    only ever calls `commit()` or `rollback()` on it."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def commit(self) -> None:
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self._connection.execute("ROLLBACK")


def _begin_with_tenant(connection: Connection, tenant_id: UUID) -> bool:
    """BEGIN and bind in one round trip on asyncpg; False where that does not apply (the caller
    then binds with an ordinary statement)."""
    adapter: Any = connection.connection.dbapi_connection
    # Only the plain case: the default isolation level, no transaction begun yet, asyncpg underneath.
    if (
        adapter is None
        or type(adapter).__name__ != "AsyncAdapt_asyncpg_connection"
        or getattr(adapter, "_transaction", True) is not None
        or adapter.isolation_level is not None
        or adapter.readonly
        or adapter.deferrable
    ):
        return False
    raw = adapter.driver_connection
    try:
        await_only(raw.execute(begin_statement(tenant_id)))
    except Exception:
        # Take the ordinary path instead, so SQLAlchemy meets the failure itself: it wraps it, and on a
        # dead connection (a database restart) invalidates the pool instead of handing it out again.
        return False
    adapter._transaction = _BegunTransaction(raw)
    return True


@event.listens_for(Session, "after_begin")
def _apply_tenant(session: Session, transaction: Any, connection: Connection) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is None:
        return
    if transaction.nested or not _begin_with_tenant(connection, tenant_id):
        connection.execute(_SET_TENANT, {"tenant_id": str(tenant_id)})


def bind_tenant(session: AsyncSession, tenant_id: UUID | None) -> None:
    """Bind (or unbind) the tenant for the session's next transactions."""
    if tenant_id is None:
        session.sync_session.info.pop(TENANT_KEY, None)
    else:
        session.sync_session.info[TENANT_KEY] = tenant_id


async def release_connection(session: AsyncSession) -> None:
    """End the session's transaction so its connection goes back to the pool before slow work that needs
    no database (storing a file, calling a remote service): no connection idles in transaction. Loaded
    objects stay usable (sessions do not expire on commit); the next query begins a new, tenant-bound
    transaction."""
    await session.commit()


@asynccontextmanager
async def tenant_session(
    factory: async_sessionmaker[AsyncSession], tenant_id: UUID | None
) -> AsyncIterator[AsyncSession]:
    """A session bound to `tenant_id`, committed on success and rolled back on error. A session that
    began nothing and holds nothing for after a commit (its reads went through `lms.db.reads` on
    connections of their own) skips the ORM's empty transaction."""
    async with factory() as session:
        bind_tenant(session, tenant_id)
        try:
            yield session
            # Adding an object begins a transaction, so no pending change is skipped; anything else a
            # commit would act on (jobs queued for after the commit) keeps the commit.
            if session.in_transaction() or set(session.sync_session.info) - {TENANT_KEY}:
                await session.commit()
        except BaseException:
            if session.in_transaction():
                await session.rollback()
            raise
