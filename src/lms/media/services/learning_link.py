"""What the media domain asks the catalogue and learning domains, through their queries and services.

Who may watch (enrolled learners, the course's instructors), which lesson a player is showing, and
the lesson duration recorded once a video is ready. Everything else in media stays on its own tables.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog import queries as catalogue
from lms.catalog.queries import LessonFacts
from lms.learning import queries as learning


async def enrolled_in_course_showing(session: AsyncSession, user_id: UUID, asset_id: UUID) -> bool:
    """An active or completed, unexpired enrolment in a course with a lesson showing this asset."""
    courses = await catalogue.courses_showing_asset(session, asset_id)
    return await learning.enrolled_unexpired_in_any(session, user_id, courses)


async def instructs_course_showing(session: AsyncSession, user_id: UUID, asset_id: UUID) -> bool:
    """The user is one of the instructors of a course with a lesson showing this asset."""
    return await catalogue.instructs_course_showing(session, user_id, asset_id)


async def lesson_showing(session: AsyncSession, lesson_id: UUID, asset_id: UUID) -> LessonFacts | None:
    lesson = await catalogue.lesson_facts(session, lesson_id)
    return lesson if lesson is not None and lesson.media_asset_id == asset_id else None
