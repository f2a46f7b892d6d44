"""Request-scoped database session bound to the request's tenant."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.binding import tenant_session
from lms.db.reads import TenantReads
from lms.lib.params import AppRequest

# How a handler asks for the request's session. Pages use this name (and so import no SQLAlchemy):
# they hand the session to services and queries, which own the SQL.
DbSession: TypeAlias = NamedDependency[AsyncSession]
# The same session as a plain type, for helpers of controllers that pass it on to services.
Session: TypeAlias = AsyncSession
# `reads`: sessionless reads of the signed-in user's tenant, for routes whose only database work is reading.
Reads: TypeAlias = NamedDependency[TenantReads]


async def provide_db_session(request: AppRequest) -> AsyncGenerator[AsyncSession, None]:
    """`db_session` for handlers: RLS-scoped to the host's tenant; committed if the handler succeeds."""
    tenant = request.scope.get("state", {}).get("tenant")
    async with tenant_session(request.app.state.db.app_sessions, tenant.id if tenant is not None else None) as session:
        yield session
