"""Shared pieces of the catalogue services: visibility rules, output shapes, the base service."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, CourseStatus, CourseVersion, Lesson, Module, SharedCourseOffer
from lms.catalog.schemas import CourseOut, LessonOut, ModuleOut
from lms.db.reads import ReadQuery, ReadSource
from lms.identity.guards import Principal
from lms.identity.schemas import Role
from lms.lib import clock
from lms.lib.errors import Conflict, Forbidden, NotFound
from lms.lib.pagination import PageParams, page_json, read_rows_and_total


def is_visible_to_learners(course: Course, at: datetime | None = None) -> bool:
    """Published, and its scheduled release time (if any) has passed."""
    at = at or clock.now()
    return course.status is CourseStatus.PUBLISHED and (course.publish_at is None or course.publish_at <= at)


def offered_to_tenant() -> ColumnElement[bool]:
    """The tenant's own courses, and the shared ones it offers (RLS scopes the offers to it)."""
    return or_(
        Course.tenant_id.is_not(None),
        exists(select(SharedCourseOffer.id).where(SharedCourseOffer.course_id == Course.id)),
    )


async def is_offered(session: AsyncSession, course: Course) -> bool:
    if not course.is_shared:
        return True
    found = await session.execute(select(SharedCourseOffer.id).where(SharedCourseOffer.course_id == course.id))
    return found.first() is not None


def lesson_out(lesson: Lesson) -> LessonOut:
    return LessonOut(
        id=lesson.id,
        module_id=lesson.module_id,
        title=lesson.title,
        type=lesson.type,
        position=lesson.position,
        duration_seconds=lesson.duration_seconds,
        required=lesson.required,
        media_asset_id=lesson.media_asset_id,
        content=lesson.content,
    )


def module_out(module: Module, lessons: Sequence[Lesson] = ()) -> ModuleOut:
    return ModuleOut(
        id=module.id,
        title=module.title,
        position=module.position,
        prerequisites=module.prerequisites,
        lessons=[lesson_out(lesson) for lesson in lessons],
    )


def course_out(course: Course, version_number: int | None, modules: list[ModuleOut] | None = None) -> CourseOut:
    return CourseOut(
        id=course.id,
        title=course.title,
        slug=course.slug,
        summary=course.summary,
        description=course.description,
        category=course.category,
        difficulty=course.difficulty,
        language=course.language,
        tags=list(course.tags),
        price_cents=course.price_cents,
        currency=course.currency,
        instructor_ids=list(course.instructor_ids),
        status=course.status,
        publish_at=course.publish_at,
        self_enrollment=course.self_enrollment,
        shared=course.is_shared,
        completion_rules=course.completion_rules,
        current_version=version_number,
        enrollment_count=course.enrollment_count,
        created_at=course.created_at,
        cover_url=cover_url(course.id, course.cover_name),
        modules=modules,
    )


def cover_url(course_id: UUID, name: str | None) -> str | None:
    return f"/courses/{course_id}/cover/{name}" if name else None


def _listed(author: bool, by_status: bool) -> list[ColumnElement[bool]]:
    """Which of the courses a tenant may see are listed: released ones for learners; every status (or
    the one asked for) for authors."""
    if not author:
        released = Course.publish_at.is_(None) | (Course.publish_at <= bindparam("now"))
        return [Course.status == CourseStatus.PUBLISHED, released]
    return [Course.status == bindparam("status")] if by_status else []


def _listed_sources(author: bool, by_status: bool, *columns: Any) -> tuple[Select[Any], Select[Any]]:
    """The listed courses as two selects of `columns`: the tenant's own, and the shared ones it offers.

    Naming the tenant (`:tenant`, the one bound for RLS) lets PostgreSQL read the own courses from
    `ix_courses_listing` in list order instead of filtering and sorting every row the read policy
    admits; RLS still decides what is visible (another tenant's id here reads nothing)."""
    own = select(*columns).where(Course.tenant_id == bindparam("tenant"), *_listed(author, by_status))
    shared = (
        select(*columns)
        .join(SharedCourseOffer, SharedCourseOffer.course_id == Course.id)
        .where(Course.tenant_id.is_(None), *_listed(author, by_status))
    )
    return own, shared


def _listed_total(author: bool, by_status: bool) -> Select[Any]:
    """How many courses are listed: an index-only count of the own ones, plus the offered shared ones."""
    return select(func.count()).select_from(union_all(*_listed_sources(author, by_status, Course.id)).subquery())


# Compiled once per variant: every request sends the same SQL text, prepared once per connection.
@functools.cache
def _page_query(author: bool, by_status: bool) -> ReadQuery:
    """A page of the list's cards and the total in one statement. Each source is cut to its first
    `offset + limit` rows in list order (for the own courses: the index's first entries, a scan that
    stops there), the two are merged and cut to the page; the total is counted once."""
    newest_first = (Course.created_at.desc(), Course.id)
    window = bindparam("limit", type_=Integer) + bindparam("offset", type_=Integer)
    own, shared = (
        source.order_by(*newest_first).limit(window)
        for source in _listed_sources(author, by_status, Course.list_card, Course.created_at, Course.id)
    )
    row = union_all(own, shared).subquery("listed").c
    return ReadQuery(
        select(row.list_card, _listed_total(author, by_status).scalar_subquery())
        .order_by(row.created_at.desc(), row.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@functools.cache
def _count_query(author: bool, by_status: bool) -> ReadQuery:
    return ReadQuery(_listed_total(author, by_status))


def is_author(principal: Principal) -> bool:
    """Instructors and tenant admins author courses (and see drafts and archived ones)."""
    return principal.has_role(Role.INSTRUCTOR, Role.TENANT_ADMIN)


async def course_page(
    reads: ReadSource, principal: Principal, limit: int, offset: int, status: CourseStatus | None = None
) -> bytes:
    """A page of the course list, as the JSON of `Page[CourseListItem]`, in one statement on the read
    path. Each course's card is stored as that JSON (`Course.list_card`, kept by a trigger), so a page is
    one value per course, joined (no description: a list of 50 would carry tens of kilobytes nobody
    reads there). Learners see released courses; authors also drafts and archived ones. `reads`: the
    request's session, or a sessionless `TenantReads` of the principal's tenant (the list route needs
    nothing else of the database)."""
    author = is_author(principal)
    by_status = author and status is not None
    page = PageParams(limit=limit, offset=offset)
    found, total = await read_rows_and_total(
        reads,
        _page_query(author, by_status),
        {"tenant": principal.tenant_id, "now": clock.now(), "status": status},
        _count_query(author, by_status),
        page,
    )
    return page_json([row[0] for row in found], total, page)


def snapshot(course: Course, structure: list[ModuleOut]) -> dict[str, Any]:
    """Everything a learner on this version needs, frozen at publish time."""
    return {
        "course": {
            "title": course.title,
            "summary": course.summary,
            "description": course.description,
            "category": course.category,
            "tags": list(course.tags),
            "completion_rules": course.completion_rules,
        },
        "modules": msgspec.to_builtins(structure),
    }


async def bump_enrollment_count(session: AsyncSession, course_id: UUID, delta: int) -> None:
    """Popularity for search sorting; the shared catalogue's counts are not tenant-writable."""
    await session.execute(
        update(Course)
        .where(Course.id == course_id, Course.tenant_id.is_not(None))
        .values(enrollment_count=Course.enrollment_count + delta)
    )


class CatalogueBase:
    """Session, caller and the lookups every catalogue service needs; RLS scopes every query."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    @property
    def is_author(self) -> bool:
        return is_author(self.principal)

    # --- reads -------------------------------------------------------------------------------
    async def get_course(self, course_id: UUID) -> Course:
        """A course the caller may see: authors see drafts of their tenant and the whole shared
        catalogue; learners only released courses, and shared ones only when the tenant offers them."""
        course = await self.session.get(Course, course_id)
        if course is None or not (self.is_author or is_visible_to_learners(course)):
            raise NotFound("course not found", field="course_id")
        if not self.is_author and not await is_offered(self.session, course):
            raise NotFound("course not found", field="course_id")
        return course

    async def version_numbers(self, courses: Sequence[Course]) -> dict[UUID, int]:
        ids = [c.current_version_id for c in courses if c.current_version_id]
        if not ids:
            return {}
        rows = await self.session.execute(
            select(CourseVersion.id, CourseVersion.number).where(CourseVersion.id.in_(ids))
        )
        return {row.id: row.number for row in rows}

    async def describe(self, course: Course, with_structure: bool = False) -> CourseOut:
        numbers = await self.version_numbers([course])
        modules = await self.structure(course.id) if with_structure else None
        return course_out(
            course, numbers.get(course.current_version_id) if course.current_version_id else None, modules
        )

    async def structure(self, course_id: UUID) -> list[ModuleOut]:
        modules = (
            await self.session.execute(select(Module).where(Module.course_id == course_id).order_by(Module.position))
        ).scalars()
        lessons = (
            await self.session.execute(select(Lesson).where(Lesson.course_id == course_id).order_by(Lesson.position))
        ).scalars()
        by_module: dict[UUID, list[Lesson]] = {}
        for lesson in lessons:
            by_module.setdefault(lesson.module_id, []).append(lesson)
        return [module_out(m, by_module.get(m.id, [])) for m in modules]

    # --- lookups -------------------------------------------------------------------------------
    async def editable_course(self, course_id: UUID, lock: bool = False) -> Course:
        """The course, if the caller may change it: a tenant admin, or one of its instructors."""
        query = select(Course).where(Course.id == course_id)
        if lock:
            # Serialises structural edits (reorder, add, publish) of one course.
            query = query.with_for_update()
        course = (await self.session.execute(query)).scalar_one_or_none()
        if course is None:
            raise NotFound("course not found", field="course_id")
        if course.is_shared:
            raise Forbidden("courses of the shared catalogue are read-only")
        if not self.principal.has_role(Role.TENANT_ADMIN) and self.principal.user_id not in course.instructor_ids:
            raise Forbidden("only the course's instructors or a tenant admin can change it")
        return course

    async def _refuse_if_in_use(self, course_id: UUID, lesson_ids: list[UUID], noun: str) -> None:
        """Deleting content that learners are on would break their version and drop their progress."""
        from lms.learning.queries import learners_using_lessons

        learners = await learners_using_lessons(self.session, course_id, lesson_ids)
        if learners:
            raise Conflict(
                f"{learners} learner(s) are on a version with this {noun} or have progress in it; "
                "publish a version without it and migrate them first",
            )

    async def _module(self, course_id: UUID, module_id: UUID) -> Module:
        module = await self.session.get(Module, module_id)
        if module is None or module.course_id != course_id:
            raise NotFound("module not found in this course", field="module_id")
        return module

    async def course_lesson(self, course_id: UUID, lesson_id: UUID) -> Lesson:
        """A lesson of the course; 404 for another course's."""
        return await self._lesson(course_id, lesson_id)

    async def _lesson(self, course_id: UUID, lesson_id: UUID) -> Lesson:
        lesson = await self.session.get(Lesson, lesson_id)
        if lesson is None or lesson.course_id != course_id:
            raise NotFound("lesson not found in this course", field="lesson_id")
        return lesson

    async def _next_position(self, query: Any) -> int:
        return int((await self.session.execute(query)).scalar() or 0) + 1

    async def _flush_unique(self, field: str, message: str) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(message, field=field) from exc


async def record_lesson_duration(session: AsyncSession, tenant_id: UUID, asset_id: UUID, seconds: float) -> None:
    """Every lesson of the tenant showing this media asset gets the video's real duration."""
    await session.execute(
        update(Lesson)
        .where(Lesson.tenant_id == tenant_id, Lesson.media_asset_id == asset_id)
        .values(duration_seconds=max(1, round(seconds)), updated_at=func.now())
    )
