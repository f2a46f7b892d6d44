"""Who may do what in assessments: course staff author and grade; enrolled learners take part.

Course staff are the course's instructors (as the catalogue records them) and tenant admins.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import LessonFacts, course_facts, lesson_facts
from lms.catalog.schemas import LessonType
from lms.catalog.services import CatalogueService
from lms.identity.guards import Principal
from lms.identity.schemas import Role
from lms.learning.queries import enrolled_user_ids, is_enrolled
from lms.lib.errors import Forbidden, NotFound, ValidationFailed


async def staff_course(session: AsyncSession, principal: Principal, course_id: UUID) -> UUID:
    """The course's id if the caller is on its staff; 404 when it is not this tenant's, 403 otherwise."""
    return (await CatalogueService(session, principal).editable_course(course_id)).id


async def is_staff(session: AsyncSession, principal: Principal, course_id: UUID) -> bool:
    if principal.has_role(Role.TENANT_ADMIN):
        return True
    if not principal.has_role(Role.INSTRUCTOR):
        return False
    course = await course_facts(session, course_id)
    return course is not None and principal.user_id in course.instructor_ids


async def staff_lesson(session: AsyncSession, principal: Principal, lesson_id: UUID, kind: LessonType) -> LessonFacts:
    """A lesson of the given type in a course the caller teaches (tenant-owned lessons only)."""
    lesson = await lesson_facts(session, lesson_id)
    if lesson is None or lesson.tenant_id is None:
        raise NotFound("lesson not found", field="lesson_id")
    await staff_course(session, principal, lesson.course_id)
    if lesson.type is not kind:
        raise ValidationFailed(f"the lesson is a {lesson.type.value} lesson, not a {kind.value}", field="lesson_id")
    return lesson


async def require_enrolled(session: AsyncSession, user_id: UUID, course_id: UUID) -> None:
    if not await is_enrolled(session, user_id, course_id):
        raise not_enrolled()


def not_enrolled() -> Forbidden:
    """What a learner who is not enrolled in the course is told (for guards read in another statement)."""
    return Forbidden("enrol in the course first")


async def enrolled_users(session: AsyncSession, course_id: UUID) -> set[UUID]:
    return await enrolled_user_ids(session, course_id)
