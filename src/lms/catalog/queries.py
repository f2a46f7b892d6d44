"""Catalogue reads other domains may call: courses and lessons as small facts, never as ORM rows.

They run on the caller's tenant-bound session, so RLS scopes them like any catalogue query.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, Lesson, LessonType


@dataclass(frozen=True)
class LessonFacts:
    id: UUID
    course_id: UUID
    # None for a lesson of the shared catalogue.
    tenant_id: UUID | None
    type: LessonType
    media_asset_id: UUID | None


async def lesson_facts(session: AsyncSession, lesson_id: UUID) -> LessonFacts | None:
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        return None
    return LessonFacts(lesson.id, lesson.course_id, lesson.tenant_id, lesson.type, lesson.media_asset_id)


@dataclass(frozen=True)
class CourseFacts:
    id: UUID
    title: str
    # The course's tenant, or SHARED_CATALOGUE_OWNER for the shared catalogue.
    catalogue_owner: UUID
    instructor_ids: tuple[UUID, ...]


async def course_facts(session: AsyncSession, course_id: UUID) -> CourseFacts | None:
    """None when the course is not visible to this tenant."""
    course = await session.get(Course, course_id)
    if course is None:
        return None
    return CourseFacts(course.id, course.title, course.owner_key, tuple(course.instructor_ids))


async def courses_showing_asset(session: AsyncSession, asset_id: UUID) -> list[UUID]:
    """Courses with a lesson that shows this media asset."""
    rows = await session.scalars(select(Lesson.course_id).where(Lesson.media_asset_id == asset_id).distinct())
    return list(rows)


async def instructs_course_showing(session: AsyncSession, user_id: UUID, asset_id: UUID) -> bool:
    """The user is one of the instructors of a course with a lesson showing this asset."""
    query = (
        select(Course.id)
        .join(Lesson, Lesson.course_id == Course.id)
        .where(Lesson.media_asset_id == asset_id, Course.instructor_ids.contains([user_id]))
        .limit(1)
    )
    return (await session.execute(query)).first() is not None
