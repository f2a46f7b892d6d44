"""Names of the certificate jobs (the worker wrappers live in workers/certificates.py)."""

from lms.learning.tasks import COURSE_COMPLETED_TASK

# The learning domain sends this after a course completion commits; certificates consume it.
ISSUE_TASK = COURSE_COMPLETED_TASK
RENDER_TASK = "certificates.render"
REMINDERS_TASK = "certificates.send_expiry_reminders"
