"""Recommendation task wrappers: the nightly recomputation of every tenant's course similarities."""

from __future__ import annotations

from lms.analytics.recommendations.services import recompute_similarities
from lms.analytics.recommendations.tasks import RECOMPUTE_ALL_TASK
from lms.db.binding import tenant_session
from lms.tenancy.queries import active_tenant_ids
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run


async def _recompute_every_tenant() -> dict[str, int]:
    """Each tenant in its own transaction: one tenant's failure leaves the others' tables fresh."""
    db = database()
    async with db.operator_sessions() as session:
        tenant_ids = await active_tenant_ids(session)
    rows: dict[str, int] = {}
    for tenant_id in tenant_ids:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            rows[str(tenant_id)] = await recompute_similarities(session, tenant_id)
    return rows


@celery_app.task(name=RECOMPUTE_ALL_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=3)
def recompute_all_task() -> dict[str, int]:
    """Beat, nightly; idempotent (each run replaces the tenant's table)."""
    return run(_recompute_every_tenant())
