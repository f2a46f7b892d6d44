"""Which courses of the shared catalogue a tenant offers its learners."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from lms.catalog.models import Course, CourseStatus, SharedCourseOffer
from lms.catalog.services.base import CatalogueBase, is_offered
from lms.identity.schemas import Role
from lms.lib.errors import Forbidden, NotFound
from lms.lib.pagination import count_and_fetch


class SharedOffers(CatalogueBase):
    """Browse the shared catalogue and opt in or out per course (tenant admins)."""

    async def shared_catalogue(self, limit: int, offset: int) -> tuple[list[tuple[Course, bool]], int]:
        """Released courses of the shared catalogue, each with whether this tenant offers it."""
        query = select(Course).where(Course.tenant_id.is_(None), Course.status == CourseStatus.PUBLISHED)
        courses, total = await count_and_fetch(self.session, query.order_by(Course.title, Course.id), limit, offset)
        offered = set(
            (
                await self.session.execute(
                    select(SharedCourseOffer.course_id).where(SharedCourseOffer.course_id.in_([c.id for c in courses]))
                )
            ).scalars()
        )
        return [(c, c.id in offered) for c in courses], total

    async def offer_shared(self, course_id: UUID) -> Course:
        """Make a shared course available to this tenant's learners (idempotent)."""
        self._require_admin()
        course = await self.session.get(Course, course_id)
        if course is None or not course.is_shared or course.status is not CourseStatus.PUBLISHED:
            raise NotFound("no released shared course with this id", field="course_id")
        if not await is_offered(self.session, course):
            self.session.add(
                SharedCourseOffer(
                    tenant_id=self.principal.tenant_id, course_id=course.id, offered_by=self.principal.user_id
                )
            )
            await self._flush_unique("course_id", "this course is already offered")
        return course

    async def withdraw_shared(self, course_id: UUID) -> None:
        """Stop offering a shared course to new learners; existing enrolments keep working."""
        self._require_admin()
        offer = (
            await self.session.execute(select(SharedCourseOffer).where(SharedCourseOffer.course_id == course_id))
        ).scalar_one_or_none()
        if offer is None:
            raise NotFound("this site does not offer that course", field="course_id")
        await self.session.delete(offer)
        await self.session.flush()

    def _require_admin(self) -> None:
        if not self.principal.has_role(Role.TENANT_ADMIN):
            raise Forbidden("only a tenant admin can choose which shared courses this site offers")
