"""Learning task wrappers: fold progress events."""

from __future__ import annotations

from lms.config import get_settings
from lms.learning.fold import fold_pending, redis_from_url
from lms.learning.ingest import StreamKeys
from lms.learning.tasks import FOLD_TASK
from workers.app import celery_app
from workers.runtime import database, run


async def _fold() -> int:
    settings = get_settings()
    redis = redis_from_url(settings.redis_url or "")
    try:
        return await fold_pending(database(), redis, StreamKeys.for_queue(settings.celery_queue))
    finally:
        await redis.aclose()


@celery_app.task(name=FOLD_TASK, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def fold_progress_task() -> int:
    """Drain the progress stream; idempotent (events are deduplicated by client event id)."""
    return run(_fold())
