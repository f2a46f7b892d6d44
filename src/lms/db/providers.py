"""Request-scoped database session bound to the request's tenant."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.binding import tenant_session
from lms.lib.params import AppRequest


async def provide_db_session(request: AppRequest) -> AsyncGenerator[AsyncSession, None]:
    """`db_session` for handlers: RLS-scoped to the host's tenant; committed if the handler succeeds."""
    tenant = request.scope.get("state", {}).get("tenant")
    async with tenant_session(request.app.state.db.app_sessions, tenant.id if tenant is not None else None) as session:
        yield session
