"""Names of the jobs the assessments domain sends (wrappers live in workers/assessments.py)."""

from lms.assessments.services import DISPATCH_TASK, REASSIGN_TASK

__all__ = ["DISPATCH_TASK", "REASSIGN_TASK"]
