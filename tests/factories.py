"""Row factories for every tenant-owned table, used by the RLS suite and by domain tests.

Each tenant table registers one factory: `async (session, tenant_id) -> row`. The RLS coverage test
fails for a tenant table without a factory, so new tables cannot skip the isolation suite.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import User
from lms.tenancy.models import TenantDomain

RowFactory = Callable[[AsyncSession, UUID], Awaitable[Any]]
ROW_FACTORIES: dict[str, RowFactory] = {}


def row_factory(table: str) -> Callable[[RowFactory], RowFactory]:
    def register(fn: RowFactory) -> RowFactory:
        ROW_FACTORIES[table] = fn
        return fn

    return register


async def _add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


@row_factory("tenant_domains")
async def make_domain(session: AsyncSession, tenant_id: UUID) -> TenantDomain:
    return await _add(
        session,
        TenantDomain(
            tenant_id=tenant_id,
            hostname=f"learn-{uuid.uuid4().hex[:8]}.example.com",
            verified=True,
            is_primary=False,
            verification_token=secrets.token_urlsafe(8),
        ),
    )


@row_factory("users")
async def make_user(session: AsyncSession, tenant_id: UUID, **fields: Any) -> User:
    values: dict[str, Any] = {
        "email": f"user-{uuid.uuid4().hex[:8]}@example.com",
        "display_name": "Ada Learner",
        "roles": ["learner"],
    }
    values.update(fields)
    return await _add(session, User(tenant_id=tenant_id, **values))
