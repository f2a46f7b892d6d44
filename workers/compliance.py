"""Compliance task wrappers: the periodic run of every tenant's training rules, and one tenant's
sync when its memberships changed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from lms.compliance.services.jobs import apply_training_rules, sync_tenant
from lms.compliance.tasks import APPLY_RULES_TASK, SYNC_TENANT_TASK
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run

# Acknowledged late: a sync whose worker vanished runs again (it is idempotent).
RETRY: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (TransientFailure,),
    "retry_backoff": True,
    "max_retries": 5,
}


@celery_app.task(name=APPLY_RULES_TASK)
def apply_training_rules_task() -> dict[str, int]:
    """Every 15 minutes: new group members enrolled, lapsed completions reopened, managers told of
    overdue training once per due date (idempotent). The safety net behind the sync below."""
    done = run(apply_training_rules(database()))
    return {"enrolled": done.enrolled, "reopened": done.reopened, "escalated": done.escalated}


@celery_app.task(name=SYNC_TENANT_TASK, **RETRY)
def sync_tenant_task(tenant_id: str, request_id: str) -> dict[str, int]:
    """Seconds after a membership change committed: the tenant's dynamic groups and training rules
    applied (`request_id` names the request it was sent for; the sync takes whichever is pending)."""
    del request_id
    done = run(sync_tenant(database().app_sessions, UUID(tenant_id)))
    return {"enrolled": done.enrolled, "reopened": done.reopened, "escalated": done.escalated}
