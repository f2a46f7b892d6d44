"""Learning reads other domains may call: who is enrolled where, and what a completed enrolment was.

They run on the caller's tenant-bound session, so RLS scopes them like any learning query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.learning.models import Enrollment, EnrollmentStatus

# The lesson as the learner's course version has it (403 when locked or not enrolled), for the lesson
# pages of other domains (quizzes, assignments).
from lms.learning.services.views import open_lesson as open_lesson
from lms.lib import clock

# Enrolments that still open the course's content (finished learners may come back to it).
TAKING_PART = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


async def is_enrolled(session: AsyncSession, user_id: UUID, course_id: UUID) -> bool:
    """An active or completed enrolment of the user in the course."""
    found = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.user_id == user_id, Enrollment.course_id == course_id, Enrollment.status.in_(TAKING_PART)
        )
    )
    return found is not None


async def enrolled_user_ids(session: AsyncSession, course_id: UUID) -> set[UUID]:
    """Users with an active or completed enrolment in the course."""
    rows = await session.scalars(
        select(Enrollment.user_id).where(Enrollment.course_id == course_id, Enrollment.status.in_(TAKING_PART))
    )
    return set(rows)


async def enrolled_unexpired_in_any(session: AsyncSession, user_id: UUID, course_ids: list[UUID]) -> bool:
    """An active or completed enrolment, not past its expiry, in one of these courses."""
    if not course_ids:
        return False
    query = (
        select(Enrollment.id)
        .where(
            Enrollment.course_id.in_(course_ids),
            Enrollment.user_id == user_id,
            Enrollment.status.in_(TAKING_PART),
            or_(Enrollment.expires_at.is_(None), Enrollment.expires_at > clock.now()),
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


@dataclass(frozen=True)
class CourseEnrollment:
    """What a course page shows of the viewer's own enrolment."""

    id: UUID
    status: EnrollmentStatus
    completion_pct: float
    due_at: datetime | None


async def enrollment_in_course(session: AsyncSession, user_id: UUID, course_id: UUID) -> CourseEnrollment | None:
    row = (
        await session.execute(
            select(Enrollment.id, Enrollment.status, Enrollment.completion_pct, Enrollment.due_at).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        )
    ).first()
    return CourseEnrollment(*row) if row is not None else None


@dataclass(frozen=True)
class EnrollmentFacts:
    id: UUID
    user_id: UUID
    course_id: UUID
    course_owner: UUID
    status: EnrollmentStatus
    completed_at: datetime | None


async def enrollment_facts(session: AsyncSession, enrollment_id: UUID) -> EnrollmentFacts | None:
    e = await session.get(Enrollment, enrollment_id)
    if e is None:
        return None
    return EnrollmentFacts(e.id, e.user_id, e.course_id, e.course_owner, e.status, e.completed_at)


_LEARNERS_USING = text(
    """
    select count(distinct e.id)
      from enrollments e
      left join course_versions v on v.id = e.version_id
     where e.course_id = :course_id
       and e.status in ('active', 'completed')
       and (
            exists (select 1 from lesson_progress p
                     where p.enrollment_id = e.id and p.lesson_id::text = any(cast(:lesson_ids as text[])))
         or exists (select 1 from jsonb_array_elements(v.snapshot -> 'modules') m,
                                  jsonb_array_elements(m -> 'lessons') l
                     where (l ->> 'id') = any(cast(:lesson_ids as text[])))
       )
    """
)


async def learners_using_lessons(session: AsyncSession, course_id: UUID, lesson_ids: list[UUID]) -> int:
    """Enrolments whose version contains any of these lessons, or that have progress in them."""
    if not lesson_ids:
        return 0
    found = await session.execute(_LEARNERS_USING, {"course_id": course_id, "lesson_ids": [str(i) for i in lesson_ids]})
    return int(found.scalar_one())
