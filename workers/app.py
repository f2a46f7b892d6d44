"""The Celery application: `celery -A workers.app worker` (or `lms worker`)."""

from __future__ import annotations

import gc
import logging
from typing import Any

from celery.schedules import crontab
from celery.signals import task_postrun, worker_init, worker_process_init, worker_shutting_down

from lms.config import get_settings
from lms.lib.jobs import build_celery
from workers.broker import DELIVERY_WRITERS, install_restore_tolerant_qos, warn_unless_persistent
from workers.leases import LEASED_TASKS, REAP_TASK, WorkerLeases, sync_redis
from workers.observability import install as install_observability

log = logging.getLogger("lms.workers")

install_restore_tolerant_qos()
celery_app = build_celery(get_settings())
celery_app.conf.include = [
    "workers.tasks",
    "workers.learning",
    "workers.identity",
    "workers.assessments",
    "workers.certificates",
    "workers.media",
    "workers.notifications",
    "workers.recommendations",
    "workers.organisation",
    "workers.privacy",
    "workers.compliance",
    "workers.billing",
    "workers.analytics",
]
celery_app.conf.beat_schedule = {
    "purge-deleted-tenants": {"task": "tenancy.purge_due_tenants", "schedule": crontab(minute=17, hour=3)},
    "tenancy-recheck-domains": {"task": "tenancy.recheck_domains", "schedule": 300.0},
    # Safety net: the API schedules folds itself; this catches events that arrived mid-fold.
    "learning-fold-progress": {"task": "learning.fold_progress", "schedule": 5.0},
    "learning-expire-enrollments": {"task": "learning.expire_enrollments", "schedule": crontab(minute=7)},
    "certificates-expiry-reminders": {
        "task": "certificates.send_expiry_reminders",
        "schedule": crontab(minute=7, hour=6),
    },
    # Each user's digest goes out at their local morning: the run is hourly.
    # New group members get the training assigned to their group; lapsed completions are reopened.
    "compliance-apply-training-rules": {"task": "compliance.apply_training_rules", "schedule": 900.0},
    "notifications-daily-digests": {"task": "notifications.send_digests", "schedule": crontab(minute=3)},
    # "Due soon" (48 hours ahead) and "overdue" reminders, once per learner, item and due date.
    "notifications-due-reminders": {"task": "notifications.send_due_reminders", "schedule": crontab(minute=13)},
    "recommendations-nightly": {"task": "recommendations.recompute_all", "schedule": crontab(minute=23, hour=2)},
    # Course analytics rollups follow the progress fold within about a minute.
    "analytics-refresh-course-rollups": {"task": "analytics.refresh_course_rollups", "schedule": 30.0},
    "analytics-refresh-video-rollups": {"task": "analytics.refresh_video_rollups", "schedule": 30.0},
    "media-expire-abandoned-uploads": {"task": "media.expire_abandoned_uploads", "schedule": crontab(minute=41)},
    "billing-enforce-grace-periods": {"task": "billing.enforce_grace_periods", "schedule": crontab(minute=23)},
    "billing-requeue-stale-events": {"task": "billing.requeue_stale_events", "schedule": 300.0},
    "billing-snapshot-seats": {"task": "billing.snapshot_seats", "schedule": crontab(minute=50, hour=23)},
    # Personal data exports are downloadable for 7 days; their files go after that.
    "privacy-purge-expired-exports": {"task": "privacy.purge_expired_exports", "schedule": crontab(minute=37, hour=4)},
    # A killed worker's transcode or certificate is sent again within about a lease and a quarter.
    "jobs-reap-lapsed-leases": {"task": REAP_TASK, "schedule": get_settings().job_lease_seconds / 4},
}
# Stdout is not a log: everything logs through the platform's JSON handler instead.
celery_app.conf.worker_redirect_stdouts = False
install_observability()
app = celery_app


def freeze_startup_objects(**_: Any) -> None:
    """What is loaded at start lives as long as the process: keep it out of the collector's scans,
    so the full collections a fold's thousands of short-lived events trigger stay short."""
    gc.freeze()


def check_redis_persistence(**_: Any) -> None:
    settings = get_settings()
    client = sync_redis(settings.redis_url or "")
    try:
        warn_unless_persistent(client, settings.redis_required_appendfsync)
    finally:
        client.close()


worker_init.connect(freeze_startup_objects, weak=False)
worker_init.connect(check_redis_persistence, weak=False)
worker_process_init.connect(freeze_startup_objects, weak=False)


leases = WorkerLeases()


# In the consumer process, as a message arrives: the worker holds the job from here on.
DELIVERY_WRITERS.append(leases.delivered)


def release_lease(task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
    """In the pool process, once the job ran."""
    if task.name in LEASED_TASKS:
        try:
            leases.ended(task_id, finished=state != "RETRY")
        except Exception as exc:  # the lease lapses and the reaper re-sends an idempotent job
            log.warning("lease not released for %s: %s", task_id, exc)


def drop_waiting_leases(**_: Any) -> None:
    try:
        leases.shutting_down()
    except Exception as exc:  # the leases lapse: the reaper sends a second copy of an idempotent job
        log.warning("leases of waiting jobs not dropped: %s", exc)


worker_shutting_down.connect(drop_waiting_leases, weak=False)
task_postrun.connect(release_lease, weak=False)
