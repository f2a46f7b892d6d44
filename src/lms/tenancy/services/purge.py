"""Purge a soft-deleted tenant: every tenant-owned row, then the tenant itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import UUID

import structlog
from sqlalchemy import delete, select, text

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.tenancy.models import Tenant, TenantStatus
from lms.tenancy.services import Actor, TenantAdmin, tenant_tables_in_purge_order

log = structlog.get_logger(__name__)

# Other domains register clean-ups for what lives outside PostgreSQL (object storage, caches).
PurgeHook = Callable[[UUID], Awaitable[None]]
purge_hooks: list[PurgeHook] = []


async def purge_tenant(db: Database, tenant_id: UUID) -> dict[str, int]:
    """Idempotent: a second run finds nothing left and returns an empty count."""
    async with db.operator_sessions() as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            return {}
        if tenant.status is not TenantStatus.DELETED:
            raise ValueError(f"tenant {tenant_id} is {tenant.status.value}, not deleted; refusing to purge")
    deleted: dict[str, int] = {}
    # The deletes run as lms_app with the tenant bound: RLS itself keeps them inside this tenant.
    async with tenant_session(db.app_sessions, tenant_id) as session:
        for table in tenant_tables_in_purge_order():
            result = await session.execute(text(f"delete from {table} where tenant_id = :t"), {"t": tenant_id})
            deleted[table] = result.rowcount  # type: ignore[attr-defined]
    for hook in purge_hooks:
        await hook(tenant_id)
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="job:tenancy.purge_tenant"), "")
        await admin.audit("tenant.purge", tenant_id, None, {"deleted_rows": deleted})
        await session.execute(delete(Tenant).where(Tenant.id == tenant_id))
    log.info("tenant purged", tenant_id=str(tenant_id), deleted_rows=deleted)
    return deleted


async def tenants_due_for_purge(db: Database, older_than_days: int) -> list[UUID]:
    cutoff = clock.now() - timedelta(days=older_than_days)
    async with db.operator_sessions() as session:
        rows = await session.execute(
            select(Tenant.id).where(Tenant.status == TenantStatus.DELETED, Tenant.deleted_at < cutoff)
        )
        return list(rows.scalars())
