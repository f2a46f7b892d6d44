"""Learning task wrappers: fold progress events, expire enrolments."""

from __future__ import annotations

from lms.config import get_settings
from lms.learning.services import expire_enrollments
from lms.learning.services.fold import fold_pending
from lms.learning.services.ingest import StreamKeys, stream_redis
from lms.learning.tasks import EXPIRE_TASK, FOLD_TASK
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run


async def _fold() -> int | None:
    settings = get_settings()
    redis = stream_redis(settings.redis_url or "")
    try:
        return await fold_pending(database(), redis, StreamKeys.for_queue(settings.celery_queue))
    finally:
        await redis.aclose()


@celery_app.task(name=FOLD_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def fold_progress_task() -> int:
    """Drain the progress stream; idempotent (events are deduplicated by client event id)."""
    folded = run(_fold())
    if folded is None:
        # Another folder is running and may have read the stream before our events arrived.
        fold_progress_task.apply_async(countdown=1.0)
        return 0
    return folded


@celery_app.task(name=EXPIRE_TASK)
def expire_enrollments_task() -> int:
    """Hourly: enrolments past their `expires_at` become expired (idempotent)."""
    return run(expire_enrollments(database()))
