"""Bind a session to a tenant for every transaction it begins.

The tenant is applied in an `after_begin` listener with `set_config(..., true)`, i.e. local to the
transaction: it survives commits inside a request (each new transaction sets it again) and can
never leak to the next user of a pooled connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

TENANT_KEY = "tenant_id"
_SET_TENANT = text("select set_config('app.tenant_id', :tenant_id, true)")


@event.listens_for(Session, "after_begin")
def _apply_tenant(session: Session, transaction: Any, connection: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is not None:
        connection.execute(_SET_TENANT, {"tenant_id": str(tenant_id)})


def bind_tenant(session: AsyncSession, tenant_id: UUID | None) -> None:
    """Bind (or unbind) the tenant for the session's next transactions."""
    if tenant_id is None:
        session.sync_session.info.pop(TENANT_KEY, None)
    else:
        session.sync_session.info[TENANT_KEY] = tenant_id


@asynccontextmanager
async def tenant_session(
    factory: async_sessionmaker[AsyncSession], tenant_id: UUID | None
) -> AsyncIterator[AsyncSession]:
    """A session bound to `tenant_id`, committed on success and rolled back on error."""
    async with factory() as session:
        bind_tenant(session, tenant_id)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
