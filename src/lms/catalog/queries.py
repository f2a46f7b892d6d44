"""Catalogue reads other domains may call: courses and lessons as small facts, never as ORM rows.

They run on the caller's tenant-bound session, so RLS scopes them like any catalogue query.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Exists, ScalarSelect, Uuid, and_, any_, bindparam, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from lms.catalog.models import (
    SHARED_CATALOGUE_OWNER,
    Course,
    CourseStatus,
    CourseVersion,
    Lesson,
    LessonType,
    Program,
    ProgramCourse,
)
from lms.catalog.services.base import is_offered, is_visible_to_learners, offered_to_tenant
from lms.db.reads import ReadQuery, ReadSource, fetch_all
from lms.lib import clock


@dataclass(frozen=True)
class LessonFacts:
    id: UUID
    course_id: UUID
    module_id: UUID
    # None for a lesson of the shared catalogue.
    tenant_id: UUID | None
    title: str
    type: LessonType
    required: bool
    duration_seconds: int | None
    media_asset_id: UUID | None
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def owner_key(self) -> UUID:
        """The lesson's catalogue owner: its tenant, or SHARED_CATALOGUE_OWNER for shared lessons."""
        return self.tenant_id or SHARED_CATALOGUE_OWNER


def _facts(lesson: Lesson) -> LessonFacts:
    return LessonFacts(
        lesson.id,
        lesson.course_id,
        lesson.module_id,
        lesson.tenant_id,
        lesson.title,
        lesson.type,
        lesson.required,
        lesson.duration_seconds,
        lesson.media_asset_id,
        dict(lesson.content or {}),
    )


async def lesson_facts(session: AsyncSession, lesson_id: UUID) -> LessonFacts | None:
    lesson = await session.get(Lesson, lesson_id)
    return _facts(lesson) if lesson is not None else None


@dataclass(frozen=True)
class LessonTiming:
    """What the progress fold needs of a lesson: its course, kind, length and catalogue owner."""

    id: UUID
    course_id: UUID
    type: LessonType
    duration_seconds: int | None
    catalogue_owner: UUID


async def lesson_timings(session: AsyncSession, lesson_ids: set[UUID]) -> dict[UUID, LessonTiming]:
    """Many lessons in one statement (the fold reads a batch of events at a time)."""
    rows = await session.execute(
        select(Lesson.id, Lesson.course_id, Lesson.type, Lesson.duration_seconds, Lesson.catalogue_owner).where(
            Lesson.id.in_(lesson_ids)
        )
    )
    return {
        row.id: LessonTiming(row.id, row.course_id, row.type, row.duration_seconds, row.catalogue_owner) for row in rows
    }


async def course_lessons(session: AsyncSession, course_id: UUID) -> list[LessonFacts]:
    """The course's current (live) lessons."""
    return [_facts(lesson) for lesson in await session.scalars(select(Lesson).where(Lesson.course_id == course_id))]


@functools.cache
def _lesson_kinds_query() -> ReadQuery:
    ids = bindparam("lesson_ids", type_=ARRAY(Uuid))
    return ReadQuery(
        select(Lesson.id, Lesson.course_id, Lesson.type, Lesson.duration_seconds).where(Lesson.id == any_(ids))
    )


async def lesson_kinds(reads: ReadSource, lesson_ids: list[UUID]) -> list[tuple[UUID, UUID, LessonType, int | None]]:
    """(lesson, course, type, duration) of these lessons: the narrow read the progress ingest caches.
    `reads`: a session, or sessionless `TenantReads` (the ingest opens no session for it)."""
    rows = await fetch_all(reads, _lesson_kinds_query(), {"lesson_ids": lesson_ids})
    return [(lesson_id, course_id, LessonType(kind), duration) for lesson_id, course_id, kind, duration in rows]


async def version_snapshots(session: AsyncSession, version_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The published snapshots of these course versions (what an enrolment's learner follows)."""
    rows = await session.execute(
        select(CourseVersion.id, CourseVersion.snapshot).where(CourseVersion.id.in_(version_ids))
    )
    return {version_id: snapshot for version_id, snapshot in rows}


async def version_number(session: AsyncSession, version_id: UUID) -> int | None:
    return await session.scalar(select(CourseVersion.number).where(CourseVersion.id == version_id))


def course_title_of(course_id: ColumnElement[UUID] | QueryableAttribute[UUID]) -> ScalarSelect[str]:
    """The title of the course `course_id` refers to, as a column another domain can select in its own
    statement (one round trip for a list that shows titles)."""
    return select(Course.title).where(Course.id == course_id).scalar_subquery()


@dataclass(frozen=True)
class CourseFacts:
    id: UUID
    title: str
    # The course's tenant, or SHARED_CATALOGUE_OWNER for the shared catalogue.
    catalogue_owner: UUID
    instructor_ids: tuple[UUID, ...]
    completion_rules: dict[str, Any] = field(default_factory=dict)

    @property
    def is_shared(self) -> bool:
        return self.catalogue_owner == SHARED_CATALOGUE_OWNER


@dataclass(frozen=True)
class CourseOffer:
    """What enrolment needs to know about a course this tenant might enrol people in."""

    id: UUID
    owner: UUID
    current_version_id: UUID | None
    status: CourseStatus
    self_enrollment: bool
    # Published and past its scheduled release time.
    visible_to_learners: bool
    # The tenant's own course, or a shared one this tenant offers.
    offered: bool


async def course_offer(session: AsyncSession, course_id: UUID) -> CourseOffer | None:
    """None when the course is not visible to this tenant."""
    course = await session.get(Course, course_id)
    if course is None:
        return None
    return CourseOffer(
        course.id,
        course.owner_key,
        course.current_version_id,
        course.status,
        course.self_enrollment,
        is_visible_to_learners(course),
        await is_offered(session, course),
    )


async def version_numbers(session: AsyncSession, version_ids: set[UUID]) -> dict[UUID, int]:
    if not version_ids:
        return {}
    rows = await session.execute(
        select(CourseVersion.id, CourseVersion.number).where(CourseVersion.id.in_(version_ids))
    )
    return {version_id: number for version_id, number in rows}


async def version_id_of(session: AsyncSession, course_id: UUID, number: int) -> UUID | None:
    """The id of the course's version `number`; None when there is no such version."""
    return await session.scalar(
        select(CourseVersion.id).where(CourseVersion.course_id == course_id, CourseVersion.number == number)
    )


async def course_facts(session: AsyncSession, course_id: UUID) -> CourseFacts | None:
    """None when the course is not visible to this tenant."""
    course = await session.get(Course, course_id)
    if course is None:
        return None
    return CourseFacts(
        course.id, course.title, course.owner_key, tuple(course.instructor_ids), dict(course.completion_rules or {})
    )


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


def lesson_visible(lesson_id: ColumnElement[UUID]) -> Exists:
    """Whether the lesson `lesson_id` refers to is visible to the bound tenant, as a column another domain
    can select in its own statement (`lesson_exists` without a round trip of its own)."""
    return exists(select(Lesson.id).where(Lesson.id == lesson_id))


async def lesson_exists(session: AsyncSession, lesson_id: UUID) -> bool:
    """Whether the lesson is visible to the bound tenant (reads its id only, not its content)."""
    return (await session.execute(select(Lesson.id).where(Lesson.id == lesson_id))).first() is not None


@dataclass(frozen=True)
class OpenCourse:
    """A course a learner of this tenant could enrol in now."""

    id: UUID
    title: str
    summary: str


async def open_courses(session: AsyncSession, course_ids: set[UUID]) -> dict[UUID, OpenCourse]:
    """Of `course_ids`, those published, released, offered to this tenant and open to self-enrolment."""
    if not course_ids:
        return {}
    rows = await session.scalars(
        select(Course).where(
            Course.id.in_(course_ids),
            Course.status == CourseStatus.PUBLISHED,
            Course.self_enrollment.is_(True),
            or_(Course.publish_at.is_(None), Course.publish_at <= clock.now()),
            offered_to_tenant(),
        )
    )
    return {c.id: OpenCourse(c.id, c.title, c.summary) for c in rows}


async def course_titles(session: AsyncSession, course_ids: set[UUID]) -> dict[UUID, str]:
    if not course_ids:
        return {}
    rows = await session.execute(select(Course.id, Course.title).where(Course.id.in_(course_ids)))
    return {course_id: title for course_id, title in rows}


@dataclass(frozen=True)
class NextInProgram:
    program_title: str
    after_course_id: UUID
    next_course_id: UUID


# Made once: aliases made per call would give SQLAlchemy a new statement to compile each time.
_CURRENT_STEP = ProgramCourse.__table__.alias("current")
_FOLLOWING_STEP = ProgramCourse.__table__.alias("following")


async def next_in_programs(session: AsyncSession, completed: set[UUID]) -> list[NextInProgram]:
    """For each published program holding a completed course, the course at the next position."""
    if not completed:
        return []
    current, following = _CURRENT_STEP, _FOLLOWING_STEP
    rows = await session.execute(
        select(Program.title, current.c.course_id, following.c.course_id)
        .join(current, current.c.program_id == Program.id)
        .join(
            following,
            and_(following.c.program_id == current.c.program_id, following.c.position == current.c.position + 1),
        )
        .where(current.c.course_id.in_(completed), Program.status == CourseStatus.PUBLISHED)
    )
    return [NextInProgram(title, after, nxt) for title, after, nxt in rows]


async def own_course_count(session: AsyncSession) -> tuple[int, int]:
    """The bound tenant's own courses (shared ones not counted): (all, published)."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Course.status == CourseStatus.PUBLISHED),
            ).where(Course.tenant_id.is_not(None))
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class CoursePrice:
    id: UUID
    title: str
    slug: str
    price_cents: int
    currency: str


async def course_price(session: AsyncSession, course_id: UUID) -> CoursePrice | None:
    """A course's price (0 = free); None when the course is not visible to this tenant."""
    course = await session.get(Course, course_id)
    if course is None:
        return None
    return CoursePrice(course.id, course.title, course.slug, course.price_cents, course.currency)


async def assignable_courses(session: AsyncSession) -> list[tuple[UUID, str]]:
    """The bound tenant's own published courses as (id, title), by title: what training rules assign."""
    rows = await session.execute(
        select(Course.id, Course.title)
        .where(Course.tenant_id.is_not(None), Course.status == CourseStatus.PUBLISHED)
        .order_by(Course.title)
    )
    return [(course_id, title) for course_id, title in rows.all()]


async def assignable_programs(session: AsyncSession) -> list[tuple[UUID, str]]:
    """The bound tenant's own published programs as (id, title), by title."""
    rows = await session.execute(
        select(Program.id, Program.title)
        .where(Program.tenant_id.is_not(None), Program.status == CourseStatus.PUBLISHED)
        .order_by(Program.title)
    )
    return [(program_id, title) for program_id, title in rows.all()]


async def program_course_ids(session: AsyncSession, program_id: UUID) -> list[UUID]:
    """The courses of a program in their order (of any status; the caller decides what it can use)."""
    rows = await session.execute(
        select(ProgramCourse.course_id).where(ProgramCourse.program_id == program_id).order_by(ProgramCourse.position)
    )
    return list(rows.scalars())
