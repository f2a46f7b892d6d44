"""Organisation task wrappers: large user imports and the invitations they send."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from lms.config import get_settings
from lms.lib.storage import storage_for
from lms.organisation.services.imports import run_import_job, send_import_invitations
from lms.organisation.tasks import IMPORT_TASK, INVITATIONS_TASK
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run

# Acknowledged late: a job whose worker vanished runs again (both are idempotent).
RETRY: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (TransientFailure,),
    "retry_backoff": True,
    "max_retries": 5,
}


@celery_app.task(name=IMPORT_TASK, **RETRY)
def run_user_import_task(tenant_id: str, import_id: str) -> str:
    """Preview or apply one large import; idempotent (an import no longer running is left alone)."""
    settings = get_settings()
    return run(
        run_import_job(database().app_sessions, settings, storage_for(settings), UUID(tenant_id), UUID(import_id))
    )


@celery_app.task(name=INVITATIONS_TASK, **RETRY)
def send_import_invitations_task(tenant_id: str, import_id: str) -> int:
    """One batch of an import's invitations; the job sends itself again while some are left."""
    return run(send_import_invitations(database().app_sessions, get_settings(), UUID(tenant_id), UUID(import_id)))
