"""Task wrappers: parse ids, bind nothing themselves, call the service that does the work."""

from __future__ import annotations

from uuid import UUID

from lms.config import get_settings
from lms.tenancy.purge import purge_tenant, tenants_due_for_purge
from workers.app import celery_app
from workers.runtime import database, run


@celery_app.task(name="tenancy.purge_tenant", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def purge_tenant_task(tenant_id: str) -> dict[str, int]:
    return run(purge_tenant(database(), UUID(tenant_id)))


@celery_app.task(name="tenancy.purge_due_tenants")
def purge_due_tenants_task() -> int:
    due = run(tenants_due_for_purge(database(), get_settings().tenant_purge_after_days))
    for tenant_id in due:
        purge_tenant_task.delay(str(tenant_id))
    return len(due)
