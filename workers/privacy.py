"""Privacy task wrappers: building a person's personal data export, and purging expired export files."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import get_settings
from lms.lib.storage import storage_for
from lms.privacy.services.exports import build_export, purge_expired_exports
from lms.privacy.tasks import EXPORT_TASK, PURGE_TASK, PURGE_TENANT_TASK
from lms.tenancy.queries import active_tenant_ids
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run, tenant_task


@tenant_task(EXPORT_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def build_personal_data_export_task(session: AsyncSession, tenant_id: UUID, export_id: UUID) -> str:
    """Write one export's zip; idempotent (a finished export is left alone, the key is fixed)."""
    return await build_export(session, tenant_id, export_id, storage_for(get_settings()))


@tenant_task(PURGE_TENANT_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def purge_expired_exports_of_tenant_task(session: AsyncSession, tenant_id: UUID, _: UUID) -> int:
    """Delete one tenant's export files past their keeping time; idempotent."""
    return await purge_expired_exports(session, storage_for(get_settings()))


async def _active() -> list[UUID]:
    async with database().operator_sessions() as session:
        return await active_tenant_ids(session)


@celery_app.task(name=PURGE_TASK)
def purge_expired_exports_task() -> int:
    """Beat, daily: one purge per active tenant, so a slow tenant holds up no other."""
    tenants = run(_active())
    for tenant_id in tenants:
        purge_expired_exports_of_tenant_task.delay(str(tenant_id), str(tenant_id))
    return len(tenants)
