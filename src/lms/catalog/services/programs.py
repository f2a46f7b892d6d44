"""Programs (learning paths): an ordered list of courses, the tenant's own or offered shared ones."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, CourseStatus, Program, ProgramCourse
from lms.catalog.schemas import ProgramCourseOut, ProgramCreate, ProgramOut
from lms.catalog.services import is_offered, is_visible_to_learners
from lms.identity.guards import Principal
from lms.identity.schemas import Role
from lms.lib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lms.lib.pagination import count_and_fetch


class ProgramService:
    """Programs of the current tenant (and shared ones, read-only)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    @property
    def is_author(self) -> bool:
        return self.principal.has_role(Role.INSTRUCTOR, Role.TENANT_ADMIN)

    async def create(self, data: ProgramCreate) -> Program:
        program = Program(
            tenant_id=self.principal.tenant_id,
            title=data.title,
            slug=data.slug,
            description=data.description,
            status=CourseStatus.DRAFT,
        )
        self.session.add(program)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"a program with slug '{data.slug}' already exists", field="slug") from exc
        await self._write_courses(program, data.course_ids)
        return program

    async def get(self, program_id: UUID) -> Program:
        program = await self.session.get(Program, program_id)
        if program is None or (not self.is_author and program.status is not CourseStatus.PUBLISHED):
            raise NotFound("program not found", field="program_id")
        return program

    async def list_programs(self, limit: int, offset: int) -> tuple[list[Program], int]:
        query = select(Program)
        if not self.is_author:
            query = query.where(Program.status == CourseStatus.PUBLISHED)
        return await count_and_fetch(self.session, query.order_by(Program.title, Program.id), limit, offset)

    async def set_courses(self, program_id: UUID, course_ids: list[UUID]) -> Program:
        """Replace the program's course order; the program row lock serialises concurrent editors."""
        program = await self._editable(program_id)
        await self.session.execute(delete(ProgramCourse).where(ProgramCourse.program_id == program.id))
        await self.session.flush()
        await self._write_courses(program, course_ids)
        return program

    async def set_status(self, program_id: UUID, status: CourseStatus) -> Program:
        program = await self._editable(program_id)
        if status is CourseStatus.PUBLISHED:
            count = await self.session.execute(
                select(func.count()).select_from(ProgramCourse).where(ProgramCourse.program_id == program.id)
            )
            if not count.scalar_one():
                raise Conflict("a program needs at least one course before it is published")
        program.status = status
        await self.session.flush()
        return program

    async def describe(self, program: Program) -> ProgramOut:
        rows = await self.session.execute(
            select(ProgramCourse.position, Course)
            .join(Course, Course.id == ProgramCourse.course_id)
            .where(ProgramCourse.program_id == program.id)
            .order_by(ProgramCourse.position)
        )
        courses = [
            ProgramCourseOut(course_id=course.id, title=course.title, position=position, shared=course.is_shared)
            for position, course in rows
            # Learners do not see courses that are not released (yet) in a published program.
            if self.is_author or is_visible_to_learners(course)
        ]
        return ProgramOut(
            id=program.id,
            title=program.title,
            slug=program.slug,
            description=program.description,
            status=program.status,
            shared=program.is_shared,
            courses=courses,
        )

    async def _editable(self, program_id: UUID) -> Program:
        if not self.is_author:
            raise Forbidden("only instructors and tenant admins can change programs")
        program = (
            await self.session.execute(select(Program).where(Program.id == program_id).with_for_update())
        ).scalar_one_or_none()
        if program is None:
            raise NotFound("program not found", field="program_id")
        if program.is_shared:
            raise Forbidden("programs of the shared catalogue are read-only")
        return program

    async def _write_courses(self, program: Program, course_ids: list[UUID]) -> None:
        if len(set(course_ids)) != len(course_ids):
            raise ValidationFailed("each course may appear once", field="course_ids")
        for position, course_id in enumerate(course_ids, start=1):
            course = await self.session.get(Course, course_id)
            if course is None or not await is_offered(self.session, course):
                raise ValidationFailed(f"course {course_id} is not in this site's catalogue", field="course_ids")
            self.session.add(
                ProgramCourse(
                    tenant_id=program.tenant_id,
                    program_id=program.id,
                    course_id=course.id,
                    course_owner=course.owner_key,
                    position=position,
                )
            )
        await self.session.flush()
