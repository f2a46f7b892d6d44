"""Request-scoped database session bound to the request's tenant."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.binding import bind_tenant
from lms.lib.params import AppRequest


async def provide_db_session(request: AppRequest) -> AsyncGenerator[AsyncSession, None]:
    """`db_session` for handlers: RLS-scoped to the host's tenant; committed if the handler succeeds."""
    tenant = request.scope.get("state", {}).get("tenant")
    async with request.app.state.db.app_sessions() as session:
        bind_tenant(session, tenant.id if tenant is not None else None)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
