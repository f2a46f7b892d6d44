"""Analytics task wrappers: refresh the course rollups of every tenant with new activity, and count
new video heartbeats and playback beacons into the video rollups."""

from __future__ import annotations

from lms.analytics.courses.services import refresh_all
from lms.analytics.courses.tasks import REFRESH_TASK
from lms.analytics.videos import services as videos
from lms.analytics.videos.tasks import REFRESH_VIDEOS_TASK
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run


@celery_app.task(name=REFRESH_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def refresh_course_rollups_task() -> int:
    """Rewrite the rollups of courses with activity since each tenant's mark (idempotent)."""
    return run(refresh_all(database()))


@celery_app.task(name=REFRESH_VIDEOS_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def refresh_video_rollups_task() -> int:
    """Count each tenant's heartbeats and beacons since its mark (the mark moves in the same transaction)."""
    return run(videos.refresh_all(database()))
