"""Media jobs: transcode an uploaded asset; abort abandoned uploads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from lms.config import get_settings
from lms.lib.storage import storage_for
from lms.media.services import expire_abandoned_uploads
from lms.media.services.pipeline import RetryableFailure, process_asset
from lms.media.tasks import EXPIRE_UPLOADS, TRANSCODE
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run

MAX_RETRIES = 4


@celery_app.task(name=TRANSCODE, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def transcode_task(self: Any, tenant_id: str, asset_id: str) -> str:
    """Idempotent: a redelivered or retried job re-runs and overwrites the same outputs."""
    settings = get_settings()
    final = self.request.retries >= MAX_RETRIES
    try:
        return run(
            process_asset(
                database(), storage_for(settings), settings, UUID(tenant_id), UUID(asset_id), final_attempt=final
            )
        )
    except (RetryableFailure, TransientFailure) as exc:
        # Exponential backoff: 10 s, 20 s, 40 s, 80 s. A lost database connection (a PostgreSQL
        # restart) lands here too, whatever query met it.
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@celery_app.task(name=EXPIRE_UPLOADS)
def expire_uploads_task() -> int:
    return run(expire_abandoned_uploads(database(), storage_for(get_settings())))
