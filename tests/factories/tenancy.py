"""Tenancy rows."""

from __future__ import annotations

import secrets
import uuid
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.tenancy.models import AdminAuditEntry, TenantDomain
from tests.factories.base import add, row_factory


@row_factory("tenant_domains")
async def make_domain(session: AsyncSession, tenant_id: UUID) -> TenantDomain:
    return await add(
        session,
        TenantDomain(
            tenant_id=tenant_id,
            hostname=f"learn-{uuid.uuid4().hex[:8]}.example.com",
            verified=True,
            is_primary=False,
            verification_token=secrets.token_urlsafe(8),
        ),
    )


@row_factory("admin_audit_log")
async def make_audit_entry(session: AsyncSession, tenant_id: UUID) -> AdminAuditEntry:
    return await add(
        session,
        AdminAuditEntry(
            tenant_id=tenant_id,
            actor_label="admin@example.com",
            action="user.updated",
            target_type="user",
            target_id=str(uuid.uuid4()),
            before={"roles": ["learner"]},
            after={"roles": ["instructor"]},
        ),
    )
