"""Catalogue rows (a tenant's own; pass tenant_id=None through the operator role for shared ones)."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from lms.catalog.models import (
    Course,
    CourseStatus,
    CourseVersion,
    Lesson,
    LessonType,
    Module,
    Program,
    ProgramCourse,
    SharedCourseOffer,
)
from tests.factories.base import add, row_factory


@row_factory("programs")
async def make_program(session: AsyncSession, tenant_id: UUID | None, **fields: Any) -> Program:
    values: dict[str, Any] = {"title": "Onboarding path", "slug": f"path-{uuid.uuid4().hex[:8]}"}
    values.update(fields)
    return await add(session, Program(tenant_id=tenant_id, **values))


@row_factory("courses")
async def make_course(session: AsyncSession, tenant_id: UUID | None, **fields: Any) -> Course:
    values: dict[str, Any] = {
        "title": "Workplace safety basics",
        "slug": f"course-{uuid.uuid4().hex[:8]}",
        "summary": "Stay safe at work",
        "status": CourseStatus.DRAFT,
    }
    values.update(fields)
    return await add(session, Course(tenant_id=tenant_id, **values))


@row_factory("modules")
async def make_module(
    session: AsyncSession, tenant_id: UUID | None, course: Course | None = None, **fields: Any
) -> Module:
    course = course or await make_course(session, tenant_id)
    values: dict[str, Any] = {"title": "Getting started", "position": 1}
    values.update(fields)
    return await add(session, Module(tenant_id=tenant_id, course_id=course.id, **values))


@row_factory("lessons")
async def make_lesson(
    session: AsyncSession, tenant_id: UUID | None, module: Module | None = None, **fields: Any
) -> Lesson:
    module = module or await make_module(session, tenant_id)
    values: dict[str, Any] = {"title": "Welcome", "type": LessonType.VIDEO, "position": 1, "duration_seconds": 120}
    values.update(fields)
    return await add(session, Lesson(tenant_id=tenant_id, course_id=module.course_id, module_id=module.id, **values))


@row_factory("course_versions")
async def make_course_version(
    session: AsyncSession, tenant_id: UUID | None, course: Course | None = None, **fields: Any
) -> CourseVersion:
    course = course or await make_course(session, tenant_id)
    values: dict[str, Any] = {"number": 1, "snapshot": {"modules": []}}
    values.update(fields)
    return await add(session, CourseVersion(tenant_id=tenant_id, course_id=course.id, **values))


@row_factory("program_courses")
async def make_program_course(session: AsyncSession, tenant_id: UUID | None, **fields: Any) -> ProgramCourse:
    program = await make_program(session, tenant_id)
    course = await make_course(session, tenant_id)
    values: dict[str, Any] = {"position": 1, "course_owner": course.catalogue_owner}
    values.update(fields)
    return await add(session, ProgramCourse(tenant_id=tenant_id, program_id=program.id, course_id=course.id, **values))


@row_factory("shared_course_offers")
async def make_shared_course_offer(session: AsyncSession, tenant_id: UUID, **fields: Any) -> SharedCourseOffer:
    """Offers a fresh shared course, which is written as the operator (the app role cannot)."""
    if "course_id" not in fields:
        fields["course_id"] = (await make_shared_course(session)).id
    return await add(session, SharedCourseOffer(tenant_id=tenant_id, **fields))


async def make_shared_course(session: AsyncSession, **fields: Any) -> Course:
    """A published course of the shared catalogue, created over the operator role's connection."""
    app_url = session.get_bind().engine.url
    # The platform roles share one password, so the operator URL is the app URL with another user.
    operator = create_async_engine(app_url.set(username="lms_operator"), poolclass=NullPool)
    try:
        async with async_sessionmaker(operator, expire_on_commit=False)() as shared, shared.begin():
            return await make_course(shared, None, **{"status": CourseStatus.PUBLISHED, **fields})
    finally:
        await operator.dispose()
