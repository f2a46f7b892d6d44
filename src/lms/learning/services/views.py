"""What a learner sees: my courses, continue where I left off, due items, a lesson (or why it is locked), resume."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, bindparam, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import course_facts, course_title_of, lesson_facts, lesson_visible, version_number
from lms.db.reads import ReadQuery, ReadSource, fetch_one
from lms.identity.guards import Principal
from lms.learning.models import Enrollment, EnrollmentStatus, LessonProgress, ProgressStatus
from lms.learning.schemas import ContinueOut, LessonViewOut, MyCourseOut, ResumeOut
from lms.learning.services.progress import VersionPlan, plan_for
from lms.lib import clock
from lms.lib.errors import Forbidden, NotFound
from lms.lib.pagination import Page, PageParams, read_rows_and_total


class LessonLocked(Forbidden):
    code = "lesson_locked"


def _overdue(status: EnrollmentStatus, due_at: datetime | None, now: datetime) -> bool:
    return status is EnrollmentStatus.ACTIVE and due_at is not None and due_at < now


def _mine(due_only: bool) -> list[ColumnElement[bool]]:
    if not due_only:
        return [Enrollment.user_id == bindparam("user_id")]
    return [
        Enrollment.user_id == bindparam("user_id"),
        Enrollment.due_at.is_not(None),
        Enrollment.status == EnrollmentStatus.ACTIVE,
    ]


# Compiled once per variant for the read path (lms.db.reads): only the columns the page shows, the title
# from the catalogue's read API, and the total as a window count, in one statement.
@functools.cache
def _my_courses_query(due_only: bool) -> ReadQuery:
    query = select(
        Enrollment.id,
        Enrollment.course_id,
        course_title_of(Enrollment.course_id).label("title"),
        Enrollment.status,
        Enrollment.completion_pct,
        Enrollment.due_at,
        Enrollment.last_lesson_id,
        Enrollment.last_activity_at,
        func.count().over(),
    ).where(*_mine(due_only))
    if due_only:
        query = query.order_by(Enrollment.due_at)
    else:
        query = query.order_by(Enrollment.last_activity_at.desc().nulls_last(), Enrollment.created_at.desc())
    return ReadQuery(query.limit(bindparam("limit")).offset(bindparam("offset")))


@functools.cache
def _my_courses_count(due_only: bool) -> ReadQuery:
    return ReadQuery(select(func.count()).select_from(Enrollment).where(*_mine(due_only)))


async def my_courses(
    reads: ReadSource, principal: Principal, page: PageParams, due_only: bool = False
) -> Page[MyCourseOut]:
    """The caller's enrolments with progress; `due_only`: active ones with a due date, soonest first.
    `reads`: the request's session, or sessionless `TenantReads` of the principal's tenant."""
    rows, total = await read_rows_and_total(
        reads, _my_courses_query(due_only), {"user_id": principal.user_id}, _my_courses_count(due_only), page
    )
    now = clock.now()
    items = []
    for (
        enrollment_id,
        course_id,
        title,
        status_value,
        completion_pct,
        due_at,
        last_lesson_id,
        last_activity_at,
        _,
    ) in rows:
        if title is None:  # a course the caller no longer sees
            continue
        status = EnrollmentStatus(status_value)
        items.append(
            MyCourseOut(
                enrollment_id=enrollment_id,
                course_id=course_id,
                title=title,
                status=status,
                completion_pct=completion_pct,
                due_at=due_at,
                overdue=_overdue(status, due_at, now),
                last_lesson_id=last_lesson_id,
                last_activity_at=last_activity_at,
            )
        )
    return page.of(items, total)


async def continue_learning(session: AsyncSession, principal: Principal) -> ContinueOut | None:
    """The most recently active unfinished enrolment, its last lesson and where to resume it."""
    enrollment = await session.scalar(
        select(Enrollment)
        .where(Enrollment.user_id == principal.user_id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .order_by(Enrollment.last_activity_at.desc().nulls_last(), Enrollment.created_at.desc())
        .limit(1)
    )
    course = await course_facts(session, enrollment.course_id) if enrollment is not None else None
    if enrollment is None or course is None:
        return None
    title = course.title
    lesson_id = enrollment.last_lesson_id
    if lesson_id is None:
        plan = await plan_for(session, enrollment)
        lesson_id = _first_lesson(plan)
    lesson_title = None
    position = 0.0
    if lesson_id is not None:
        lesson = await lesson_facts(session, lesson_id)
        lesson_title = lesson.title if lesson else None
        progress = await _progress(session, principal.user_id, lesson_id)
        position = progress.position_seconds if progress else 0.0
    return ContinueOut(
        enrollment_id=enrollment.id,
        course_id=enrollment.course_id,
        course_title=title,
        lesson_id=lesson_id,
        lesson_title=lesson_title,
        position_seconds=position,
        completion_pct=enrollment.completion_pct,
    )


@functools.cache
def _resume_query() -> ReadQuery:
    """Whether the lesson is visible and the caller's progress in it (when any), in one statement."""
    progress = (
        select(
            LessonProgress.status,
            LessonProgress.position_seconds,
            LessonProgress.position_at,
            LessonProgress.watched_seconds,
            LessonProgress.scroll_depth,
        )
        .where(LessonProgress.user_id == bindparam("user_id"), LessonProgress.lesson_id == bindparam("lesson_id"))
        .subquery("progress")
    )
    one_row = select(literal(1).label("one")).subquery("one_row")
    return ReadQuery(
        select(lesson_visible(bindparam("lesson_id")).label("visible"), *progress.c).select_from(
            one_row.outerjoin(progress, true())
        )
    )


async def resume(reads: ReadSource, principal: Principal, lesson_id: UUID) -> ResumeOut:
    """The caller's last position in a lesson, from whichever device wrote latest (client time).
    `reads`: the request's session, or sessionless `TenantReads` of the principal's tenant."""
    row = await fetch_one(reads, _resume_query(), {"user_id": principal.user_id, "lesson_id": lesson_id})
    if row is None or not row[0]:
        raise NotFound("lesson not found", field="lesson_id")
    _, status, position_seconds, position_at, watched_seconds, scroll_depth = row
    if status is None:  # no progress yet
        return ResumeOut(
            lesson_id=lesson_id,
            position_seconds=0.0,
            position_at=None,
            status="not_started",
            watched_seconds=0.0,
            scroll_depth=0.0,
        )
    return ResumeOut(
        lesson_id=lesson_id,
        position_seconds=position_seconds,
        position_at=position_at,
        status=ProgressStatus(status).value,
        watched_seconds=watched_seconds,
        scroll_depth=scroll_depth,
    )


async def open_lesson(session: AsyncSession, principal: Principal, course_id: UUID, lesson_id: UUID) -> LessonViewOut:
    """A lesson as the learner's version has it; 403 naming the unmet prerequisite when locked."""
    enrollment = (
        await session.execute(
            select(Enrollment).where(Enrollment.user_id == principal.user_id, Enrollment.course_id == course_id)
        )
    ).scalar_one_or_none()
    if enrollment is None or enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED):
        if await course_facts(session, course_id) is None:
            raise NotFound("course not found", field="course_id")
        raise Forbidden("enrol in this course to open its lessons")
    plan = await plan_for(session, enrollment)
    module, item = _find(plan, lesson_id)
    if item is None:
        # Version-less enrolments (assigned drafts) read the live lesson.
        lesson = await lesson_facts(session, lesson_id)
        if lesson is None or lesson.course_id != course_id:
            raise NotFound("lesson not found in this course", field="lesson_id")
        item = {
            "id": str(lesson.id),
            "module_id": str(lesson.module_id),
            "title": lesson.title,
            "type": lesson.type.value,
            "duration_seconds": lesson.duration_seconds,
            "content": lesson.content,
            "media_asset_id": str(lesson.media_asset_id) if lesson.media_asset_id else None,
        }
    if module is not None:
        await _check_prerequisites(session, principal.user_id, plan, module)
    progress = await _progress(session, principal.user_id, lesson_id)
    number = None
    if enrollment.version_id:
        number = await version_number(session, enrollment.version_id)
    return LessonViewOut(
        id=lesson_id,
        course_id=course_id,
        module_id=UUID(str(item["module_id"])),
        title=item["title"],
        type=item["type"],
        duration_seconds=item.get("duration_seconds"),
        content=item.get("content") or {},
        media_asset_id=UUID(str(item["media_asset_id"])) if item.get("media_asset_id") else None,
        version=number,
        resume_position_seconds=progress.position_seconds if progress else 0.0,
    )


async def _check_prerequisites(session: AsyncSession, user_id: UUID, plan: VersionPlan, module: dict[str, Any]) -> None:
    if not module.get("prerequisites"):
        return
    reason = _unmet(plan, module, *await _finished_lessons(session, user_id))
    if reason is not None:
        raise reason


async def module_locks(session: AsyncSession, user_id: UUID, course_id: UUID) -> dict[UUID, LessonLocked]:
    """Why each locked module of the learner's version of a course is locked (the same reason its
    lessons answer with); empty when the learner is not enrolled or nothing is locked."""
    mine = select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
    enrollment = (await session.execute(mine)).scalar_one_or_none()
    if enrollment is None or enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED):
        return {}
    plan = await plan_for(session, enrollment)
    gated = [m for m in plan.modules if m.get("prerequisites")]
    if not gated:
        return {}
    finished = await _finished_lessons(session, user_id)
    return {UUID(str(m["id"])): reason for m in gated if (reason := _unmet(plan, m, *finished)) is not None}


async def _finished_lessons(session: AsyncSession, user_id: UUID) -> tuple[set[UUID], set[UUID]]:
    """The learner's completed lessons, and the passed ones."""
    rows = await session.execute(
        select(LessonProgress.lesson_id, LessonProgress.status, LessonProgress.passed).where(
            LessonProgress.user_id == user_id
        )
    )
    completed: set[UUID] = set()
    passed: set[UUID] = set()
    for lesson_id, status, lesson_passed in rows:
        if status is ProgressStatus.COMPLETED:
            completed.add(lesson_id)
        if lesson_passed:
            passed.add(lesson_id)
    return completed, passed


def _unmet(plan: VersionPlan, module: dict[str, Any], completed: set[UUID], passed: set[UUID]) -> LessonLocked | None:
    """The first of the module's prerequisites the learner has not met, as the refusal to give."""
    modules = {str(m["id"]): m for m in plan.modules}
    for requirement in module.get("prerequisites") or []:
        if requirement["kind"] == "module_completed":
            required_module = modules.get(str(requirement["module_id"]))
            if required_module is None:
                continue  # the module is not part of this version
            needed = {UUID(str(x["id"])) for x in required_module.get("lessons", []) if x.get("required", True)}
            if not needed <= completed:
                return LessonLocked("complete the module '%(title)s' first", values={"title": required_module["title"]})
        elif requirement["kind"] == "quiz_passed":
            quiz_id = UUID(str(requirement["lesson_id"]))
            if quiz_id not in passed:
                title = next(
                    (x["title"] for m in plan.modules for x in m.get("lessons", []) if str(x["id"]) == str(quiz_id)),
                    "the required quiz",
                )
                return LessonLocked("pass the quiz '%(title)s' first", values={"title": title})
    return None


def _find(plan: VersionPlan, lesson_id: UUID) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    for module in plan.modules:
        for item in module.get("lessons", []):
            if str(item["id"]) == str(lesson_id):
                return module, {**item, "module_id": module["id"]}
    return None, None


def _first_lesson(plan: VersionPlan) -> UUID | None:
    for module in plan.modules:
        for item in module.get("lessons", []):
            return UUID(str(item["id"]))
    return None


async def _progress(session: AsyncSession, user_id: UUID, lesson_id: UUID) -> LessonProgress | None:
    return (
        await session.execute(
            select(LessonProgress).where(LessonProgress.user_id == user_id, LessonProgress.lesson_id == lesson_id)
        )
    ).scalar_one_or_none()
