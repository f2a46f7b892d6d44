"""Recertification: a completed enrolment is opened again so the person takes the course once more.

The enrolment stays the same row (one per person and course): it becomes active with a new due date,
its completion (percentage, date) and its lesson progress are cleared, and its completion and milestone
outbox entries are removed so that finishing the course again is announced again. Certificates already
issued are kept: they remain on record with their own expiry date.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.learning.models import Enrollment, EnrollmentStatus, LearningOutboxEntry, LessonProgress


async def reopen_for_recertification(session: AsyncSession, enrollment_ids: list[UUID], due_at: datetime) -> int:
    """Open these completed enrolments again, due at `due_at`; how many were opened."""
    if not enrollment_ids:
        return 0
    opened = await session.execute(
        update(Enrollment)
        .where(
            Enrollment.id.in_(enrollment_ids),
            Enrollment.status == EnrollmentStatus.COMPLETED,
        )
        .values(status=EnrollmentStatus.ACTIVE, completion_pct=0.0, completed_at=None, due_at=due_at)
        .returning(Enrollment.id)
        .execution_options(synchronize_session=False)
    )
    reopened = list(opened.scalars())
    if reopened:
        await session.execute(delete(LessonProgress).where(LessonProgress.enrollment_id.in_(reopened)))
        await session.execute(delete(LearningOutboxEntry).where(LearningOutboxEntry.enrollment_id.in_(reopened)))
    return len(reopened)
