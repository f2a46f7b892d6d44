"""Learning task wrappers: fold progress events, expire enrolments."""

from __future__ import annotations

from lms.config import get_settings
from lms.learning.fold import fold_pending
from lms.learning.ingest import FOLD_WINDOW_SECONDS, StreamKeys, claim_fold_window, stream_redis
from lms.learning.services import expire_enrollments
from lms.learning.tasks import EXPIRE_TASK, FOLD_TASK
from workers.app import celery_app
from workers.runtime import database, run


async def _fold() -> tuple[int | None, bool]:
    """Events folded (None: another folder holds the lock), and whether to fold again next window."""
    settings = get_settings()
    keys = StreamKeys.for_queue(settings.celery_queue)
    redis = stream_redis(settings.redis_url or "")
    try:
        folded = await fold_pending(database(), redis, keys)
        # While events keep arriving the fold re-schedules itself, so API processes need to claim
        # a window only once per window each (see lms.learning.ingest).
        again = bool(folded) and await claim_fold_window(redis, keys)
        return folded, again
    finally:
        await redis.aclose()


@celery_app.task(name=FOLD_TASK, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def fold_progress_task() -> int:
    """Drain the progress stream; idempotent (events are deduplicated by client event id)."""
    folded, again = run(_fold())
    if folded is None:
        # Another folder is running and may have read the stream before our events arrived.
        fold_progress_task.apply_async(countdown=FOLD_WINDOW_SECONDS)
        return 0
    if again:
        fold_progress_task.apply_async(countdown=FOLD_WINDOW_SECONDS)
    return folded


@celery_app.task(name=EXPIRE_TASK)
def expire_enrollments_task() -> int:
    """Hourly: enrolments past their `expires_at` become expired (idempotent)."""
    return run(expire_enrollments(database()))
