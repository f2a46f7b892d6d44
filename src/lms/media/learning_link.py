"""The one place the media domain reads or writes the learning domain's rows.

Who may watch (enrolled learners, the course's instructors), which lesson a player is showing, and
the lesson duration recorded once a video is ready. Everything else in media stays on its own tables.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, Lesson
from lms.learning.models import Enrollment, EnrollmentStatus
from lms.lib import clock

# Enrolments that still open the course's videos (finished learners may watch again).
WATCHING_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


async def enrolled_in_course_showing(session: AsyncSession, user_id: UUID, asset_id: UUID) -> bool:
    """An active or completed, unexpired enrolment in a course with a lesson showing this asset."""
    query = (
        select(Enrollment.id)
        .join(Lesson, Lesson.course_id == Enrollment.course_id)
        .where(
            Lesson.media_asset_id == asset_id,
            Enrollment.user_id == user_id,
            Enrollment.status.in_(WATCHING_STATUSES),
            or_(Enrollment.expires_at.is_(None), Enrollment.expires_at > clock.now()),
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


async def instructs_course_showing(session: AsyncSession, user_id: UUID, asset_id: UUID) -> bool:
    """The user is one of the instructors of a course with a lesson showing this asset."""
    query = (
        select(Course.id)
        .join(Lesson, Lesson.course_id == Course.id)
        .where(Lesson.media_asset_id == asset_id, Course.instructor_ids.contains([user_id]))
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


async def lesson_showing(session: AsyncSession, lesson_id: UUID, asset_id: UUID) -> Lesson | None:
    lesson = await session.get(Lesson, lesson_id)
    return lesson if lesson is not None and lesson.media_asset_id == asset_id else None


async def record_lesson_duration(session: AsyncSession, tenant_id: UUID, asset_id: UUID, seconds: float) -> None:
    """Every lesson of the tenant showing this asset gets the video's real duration."""
    await session.execute(
        update(Lesson)
        .where(Lesson.tenant_id == tenant_id, Lesson.media_asset_id == asset_id)
        .values(duration_seconds=max(1, round(seconds)), updated_at=func.now())
    )
