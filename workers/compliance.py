"""Compliance task wrappers: the periodic run of every tenant's training rules."""

from __future__ import annotations

from lms.compliance.services.jobs import apply_training_rules
from lms.compliance.tasks import APPLY_RULES_TASK
from workers.app import celery_app
from workers.runtime import database, run


@celery_app.task(name=APPLY_RULES_TASK)
def apply_training_rules_task() -> dict[str, int]:
    """Every 15 minutes: new group members enrolled, lapsed completions reopened, managers told of
    overdue training once per due date (idempotent)."""
    done = run(apply_training_rules(database()))
    return {"enrolled": done.enrolled, "reopened": done.reopened, "escalated": done.escalated}
