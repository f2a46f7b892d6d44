"""The Celery application: `celery -A workers.app worker` (or `lms worker`)."""

from __future__ import annotations

import gc
from typing import Any

from celery.schedules import crontab
from celery.signals import worker_init, worker_process_init

from lms.config import get_settings
from lms.lib.jobs import build_celery

celery_app = build_celery(get_settings())
celery_app.conf.include = [
    "workers.tasks",
    "workers.learning",
    "workers.identity",
    "workers.assessments",
    "workers.certificates",
    "workers.media",
]
celery_app.conf.beat_schedule = {
    "purge-deleted-tenants": {"task": "tenancy.purge_due_tenants", "schedule": crontab(minute=17, hour=3)},
    # Safety net: the API schedules folds itself; this catches events that arrived mid-fold.
    "learning-fold-progress": {"task": "learning.fold_progress", "schedule": 5.0},
    "learning-expire-enrollments": {"task": "learning.expire_enrollments", "schedule": crontab(minute=7)},
    "certificates-expiry-reminders": {
        "task": "certificates.send_expiry_reminders",
        "schedule": crontab(minute=7, hour=6),
    },
    "media-expire-abandoned-uploads": {"task": "media.expire_abandoned_uploads", "schedule": crontab(minute=41)},
}
app = celery_app


def freeze_startup_objects(**_: Any) -> None:
    """What is loaded at start lives as long as the process: keep it out of the collector's scans,
    so the full collections a fold's thousands of short-lived events trigger stay short."""
    gc.freeze()


worker_init.connect(freeze_startup_objects, weak=False)
worker_process_init.connect(freeze_startup_objects, weak=False)
