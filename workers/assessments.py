"""Assessment task wrappers: notification dispatch and reassignment of missed peer reviews."""

from __future__ import annotations

from uuid import UUID

from lms.assessments.assignments import AssignmentService
from lms.assessments.notifications import dispatch
from lms.assessments.peer_reviews import PeerReviewService
from lms.assessments.storage import submission_store
from lms.assessments.tasks import DISPATCH_TASK, REASSIGN_TASK
from lms.config import get_settings
from lms.db.binding import tenant_session
from lms.identity.principal import Principal
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run


async def _dispatch(tenant_id: UUID, entry_id: UUID) -> str:
    async with tenant_session(database().app_sessions, tenant_id) as session:
        return await dispatch(session, entry_id)


async def _reassign(tenant_id: UUID, assignment_id: UUID) -> int:
    async with tenant_session(database().app_sessions, tenant_id) as session:
        # The job acts for the platform, not for a user: no roles, and no staff check.
        system = Principal(user_id=UUID(int=0), tenant_id=tenant_id, roles=frozenset())
        service = PeerReviewService(AssignmentService(session, system, submission_store(get_settings())))
        result = await service.reassign_missed(assignment_id, staff=False)
        return result.reassigned


@celery_app.task(name=DISPATCH_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def dispatch_notification_task(tenant_id: str, entry_id: str) -> str:
    """Send one assessment notification; idempotent (dispatched entries are skipped)."""
    return run(_dispatch(UUID(tenant_id), UUID(entry_id)))


@celery_app.task(name=REASSIGN_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def reassign_missed_reviews_task(tenant_id: str, assignment_id: str) -> int:
    """Replace reviewers whose deadline passed; idempotent (only overdue, still-assigned reviews change)."""
    return run(_reassign(UUID(tenant_id), UUID(assignment_id)))
