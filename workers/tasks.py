"""Task wrappers: parse ids, bind nothing themselves, call the service that does the work."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from lms.config import get_settings
from lms.tenancy.services import PURGE_TASK
from lms.tenancy.services.domains import RECHECK_TASK, recheck_due_domains
from lms.tenancy.services.purge import purge_tenant, tenants_due_for_purge
from workers.app import celery_app
from workers.leases import REAP_TASK, LeaseKeys, reap_lapsed_leases, sync_redis
from workers.runtime import TransientFailure, database, run


@celery_app.task(name=PURGE_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def purge_tenant_task(tenant_id: str) -> dict[str, int]:
    return run(purge_tenant(database(), UUID(tenant_id)))


@celery_app.task(name="tenancy.purge_due_tenants")
def purge_due_tenants_task() -> int:
    due = run(tenants_due_for_purge(database(), get_settings().tenant_purge_after_days))
    for tenant_id in due:
        purge_tenant_task.delay(str(tenant_id))
    return len(due)


@celery_app.task(name=RECHECK_TASK)
def recheck_domains_task() -> int:
    """Beat: look up the custom domains whose next DNS check is due."""
    return run(recheck_due_domains(database(), get_settings()))


@celery_app.task(name=REAP_TASK)
def reap_lapsed_leases_task() -> dict[str, list[str]]:
    """Beat, every quarter lease: send again the long jobs whose worker vanished."""
    settings = get_settings()
    client = sync_redis(settings.redis_url or "")

    def send(name: str, args: list[Any], kwargs: dict[str, Any], task_id: str) -> None:
        celery_app.send_task(name, args=args, kwargs=kwargs, task_id=task_id)

    try:
        reaped = reap_lapsed_leases(client, LeaseKeys.for_queue(settings.celery_queue), send)
    finally:
        client.close()
    return {"resent": reaped.resent, "abandoned": reaped.abandoned}
