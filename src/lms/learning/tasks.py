"""Names of the jobs the learning domain sends (wrappers live in workers/learning.py)."""

from lms.learning.services.ingest import FOLD_TASK
from lms.learning.services.progress import COURSE_COMPLETED_TASK

EXPIRE_TASK = "learning.expire_enrollments"

__all__ = ["COURSE_COMPLETED_TASK", "EXPIRE_TASK", "FOLD_TASK"]
