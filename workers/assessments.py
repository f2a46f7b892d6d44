"""Assessment task wrappers: notification dispatch and reassignment of missed peer reviews."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.assignments.services.assignments import AssignmentService
from lms.assessments.assignments.services.peer_reviews import PeerReviewService
from lms.assessments.assignments.services.storage import submission_store
from lms.assessments.services import dispatch
from lms.assessments.tasks import DISPATCH_TASK, REASSIGN_TASK
from lms.config import get_settings
from lms.identity.guards import Principal
from workers.runtime import TransientFailure, tenant_task


@tenant_task(DISPATCH_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def dispatch_notification_task(session: AsyncSession, tenant_id: UUID, entry_id: UUID) -> str:
    """Send one assessment notification; idempotent (dispatched entries are skipped)."""
    return await dispatch(session, entry_id)


@tenant_task(REASSIGN_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def reassign_missed_reviews_task(session: AsyncSession, tenant_id: UUID, assignment_id: UUID) -> int:
    """Replace reviewers whose deadline passed; idempotent (only overdue, still-assigned reviews change)."""
    # The job acts for the platform, not for a user: no roles, and no staff check.
    system = Principal(user_id=UUID(int=0), tenant_id=tenant_id, roles=frozenset())
    service = PeerReviewService(AssignmentService(session, system, submission_store(get_settings())))
    result = await service.reassign_missed(assignment_id, staff=False)
    return result.reassigned
