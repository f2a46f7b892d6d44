"""Course-level progress: completion percentage, milestones, course completion, assessment results.

Shared by the progress-event fold (lms.learning.services.fold) and by other domains through
`record_assessment_result`. Everything runs on a tenant-bound session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Uuid, any_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import course_facts, course_lessons, lesson_facts, version_snapshots
from lms.db.reads import ReadQuery, fetch_all
from lms.learning.models import (
    Enrollment,
    EnrollmentStatus,
    LearningOutboxEntry,
    LessonProgress,
    ProgressStatus,
)
from lms.learning.services.completion import crossed_milestones, lesson_is_complete
from lms.lib import clock
from lms.lib.errors import NotFound
from lms.lib.jobs import enqueue_after_commit
from lms.lib.outbox import write_each_once, write_once
from lms.notifications import services as notifications

COURSE_COMPLETED_TASK = "learning.course_completed"


@dataclass(frozen=True)
class VersionPlan:
    """What completion means for one course version: required lessons and their kinds."""

    required: frozenset[UUID]
    assessments: frozenset[UUID]
    lesson_types: dict[UUID, str]
    rules: dict[str, Any]
    modules: list[dict[str, Any]]


# Versions are immutable snapshots, so their plans can be cached for the life of the process.
_PLANS: dict[UUID, VersionPlan] = {}


def plan_from_snapshot(snapshot: dict[str, Any]) -> VersionPlan:
    required: set[UUID] = set()
    assessments: set[UUID] = set()
    types: dict[UUID, str] = {}
    for module in snapshot.get("modules", []):
        for lesson in module.get("lessons", []):
            lesson_id = UUID(str(lesson["id"]))
            types[lesson_id] = lesson["type"]
            if lesson.get("required", True):
                required.add(lesson_id)
                if lesson["type"] in ("quiz", "assignment"):
                    assessments.add(lesson_id)
    return VersionPlan(
        frozenset(required),
        frozenset(assessments),
        types,
        dict(snapshot.get("course", {}).get("completion_rules") or {}),
        list(snapshot.get("modules", [])),
    )


async def version_plans(session: AsyncSession, version_ids: set[UUID]) -> dict[UUID, VersionPlan]:
    missing = [v for v in version_ids if v not in _PLANS]
    if missing:
        for version_id, snapshot in (await version_snapshots(session, missing)).items():
            _PLANS[version_id] = plan_from_snapshot(snapshot)
    return {v: _PLANS[v] for v in version_ids if v in _PLANS}


async def live_plan(session: AsyncSession, course_id: UUID) -> VersionPlan:
    """For enrolments without a published version (assigned to a draft): the current lessons."""
    lessons = await course_lessons(session, course_id)
    course = await course_facts(session, course_id)
    required = {lesson.id for lesson in lessons if lesson.required}
    return VersionPlan(
        frozenset(required),
        frozenset(lesson.id for lesson in lessons if lesson.required and lesson.type.value in ("quiz", "assignment")),
        {lesson.id: lesson.type.value for lesson in lessons},
        dict(course.completion_rules if course else {}),
        [],
    )


async def plan_for(session: AsyncSession, enrollment: Enrollment | Any) -> VersionPlan:
    if enrollment.version_id is not None:
        plans = await version_plans(session, {enrollment.version_id})
        if enrollment.version_id in plans:
            return plans[enrollment.version_id]
    return await live_plan(session, enrollment.course_id)


@dataclass
class Activity:
    lesson_id: UUID
    at: datetime


async def recompute_enrollments(
    session: AsyncSession, tenant_id: UUID, enrollment_ids: set[UUID], activity: dict[UUID, Activity] | None = None
) -> None:
    """Recompute completion_pct of these enrolments; write milestones and course completion."""
    if not enrollment_ids:
        return
    enrollments = list(
        (
            await session.execute(
                select(Enrollment).where(Enrollment.id.in_(enrollment_ids)).execution_options(populate_existing=True)
            )
        ).scalars()
    )
    await _recompute(session, tenant_id, enrollments, activity or {})


async def _recompute(
    session: AsyncSession, tenant_id: UUID, enrollments: list[Enrollment], activity: dict[UUID, Activity]
) -> None:
    """`recompute_enrollments` of enrolments read in this transaction (as they are in the database)."""
    await version_plans(session, {e.version_id for e in enrollments if e.version_id})
    done: dict[UUID, set[UUID]] = {e.id: set() for e in enrollments}
    passed: dict[UUID, set[UUID]] = {e.id: set() for e in enrollments}
    rows = await fetch_all(session, _COMPLETED_LESSONS, {"ids": [e.id for e in enrollments]})
    for enrollment_id, lesson_id, lesson_passed in rows:
        done[enrollment_id].add(lesson_id)
        if lesson_passed:
            passed[enrollment_id].add(lesson_id)
    now = clock.now()
    for enrollment in enrollments:
        plan = await plan_for(session, enrollment)
        required = plan.required
        pct = round(100.0 * len(done[enrollment.id] & required) / len(required), 2) if required else 0.0
        before = enrollment.completion_pct
        enrollment.completion_pct = pct
        seen = activity.get(enrollment.id)
        if seen and (enrollment.last_activity_at is None or seen.at >= enrollment.last_activity_at):
            enrollment.last_activity_at = seen.at
            enrollment.last_lesson_id = seen.lesson_id
        # Every milestone crossed at once (a passed quiz may cross several) in one statement.
        await write_each_once(
            session,
            LearningOutboxEntry.__table__,  # type: ignore[arg-type]
            tenant_id,
            [
                (f"milestone:{enrollment.id}:{milestone}", _entry(enrollment, "milestone", milestone))
                for milestone in crossed_milestones(before, pct)
            ],
        )
        assessments_passed = plan.assessments <= passed[enrollment.id]
        if pct >= 100 and assessments_passed and enrollment.status is EnrollmentStatus.ACTIVE:
            enrollment.status = EnrollmentStatus.COMPLETED
            enrollment.completed_at = now
            if await _outbox(session, tenant_id, enrollment, "course_completed", f"course_completed:{enrollment.id}"):
                # Certificates and recommendations consume this after the transaction commits.
                enqueue_after_commit(session, COURSE_COMPLETED_TASK, str(tenant_id), str(enrollment.id))
                await _tell_completed(session, tenant_id, enrollment)
    await session.flush()


async def _tell_completed(session: AsyncSession, tenant_id: UUID, enrollment: Enrollment) -> None:
    """The learner's "you completed the course" notification, in the completing transaction."""
    course = await course_facts(session, enrollment.course_id)
    await notifications.notify(
        session,
        tenant_id,
        enrollment.user_id,
        "course_completed",
        {"course": course.title if course else ""},
        link=f"/courses/{enrollment.course_id}",
        dedupe_key=f"course-completed:{enrollment.id}",
    )


async def _outbox(
    session: AsyncSession,
    tenant_id: UUID,
    enrollment: Enrollment,
    kind: str,
    dedupe_key: str,
    milestone: int | None = None,
) -> bool:
    """Insert once per dedupe key; True when this call wrote it."""
    table = LearningOutboxEntry.__table__
    entry_id = await write_once(
        session,
        table,  # type: ignore[arg-type]
        tenant_id,
        dedupe_key,
        **_entry(enrollment, kind, milestone),
    )
    return entry_id is not None


def _entry(enrollment: Enrollment, kind: str, milestone: int | None) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment.id,
        "user_id": enrollment.user_id,
        "course_id": enrollment.course_id,
        "kind": kind,
        "milestone": milestone,
        "payload": {"completion_pct": enrollment.completion_pct, "version_id": str(enrollment.version_id or "")},
        # Certificates take completions straight from the job sent after commit.
        "dispatched_at": clock.now() if kind == "course_completed" else None,
    }


# Statements of an assessment result (every quiz submit), built once.
# On the read path (in the recompute's transaction): a plain rows read sent straight to asyncpg.
_COMPLETED_LESSONS = ReadQuery(
    select(LessonProgress.enrollment_id, LessonProgress.lesson_id, LessonProgress.passed).where(
        LessonProgress.enrollment_id == any_(bindparam("ids", type_=ARRAY(Uuid))),
        LessonProgress.status == ProgressStatus.COMPLETED,
    )
)
# Fresh (populate_existing), so the recompute can use it without reading it again.
_ENROLMENT = (
    select(Enrollment)
    .where(Enrollment.user_id == bindparam("user_id"), Enrollment.course_id == bindparam("course_id"))
    .execution_options(populate_existing=True)
)
_LESSON_PROGRESS = (
    select(LessonProgress)
    .where(LessonProgress.user_id == bindparam("user_id"), LessonProgress.lesson_id == bindparam("lesson_id"))
    .with_for_update()
)


async def record_assessment_result(
    session: AsyncSession, user_id: UUID, lesson_id: UUID, passed: bool, score: float | None = None
) -> LessonProgress:
    """Record a quiz or assignment outcome for a learner (called by the assessments domain).

    A pass completes the lesson (and may complete the course); a later fail never undoes a pass.
    The score kept is the best one. Raises NotFound when the lesson is unknown to this tenant or
    the user is not enrolled in its course.
    """
    lesson = await lesson_facts(session, lesson_id)
    if lesson is None:
        raise NotFound("lesson not found", field="lesson_id")
    enrollment = (
        await session.execute(_ENROLMENT, {"user_id": user_id, "course_id": lesson.course_id})
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound("the user is not enrolled in this lesson's course", field="user_id")
    progress = (
        await session.execute(_LESSON_PROGRESS, {"user_id": user_id, "lesson_id": lesson_id})
    ).scalar_one_or_none()
    if progress is None:
        progress = LessonProgress(
            tenant_id=enrollment.tenant_id,
            enrollment_id=enrollment.id,
            user_id=user_id,
            lesson_id=lesson_id,
            lesson_owner=lesson.owner_key,
            watched_ranges=[],
        )
        session.add(progress)
    progress.passed = bool(progress.passed) or passed
    if score is not None:
        progress.score = score if progress.score is None else max(progress.score, score)
    now = clock.now()
    progress.last_event_at = now
    plan = await plan_for(session, enrollment)
    complete = lesson_is_complete(
        plan.lesson_types.get(lesson_id, lesson.type.value),
        duration_seconds=lesson.duration_seconds,
        watched_seconds=progress.watched_seconds or 0.0,
        scroll_depth=progress.scroll_depth or 0.0,
        passed=progress.passed,
        viewed=True,
        rules=plan.rules,
    )
    if complete and progress.status is not ProgressStatus.COMPLETED:
        progress.status = ProgressStatus.COMPLETED
        progress.completed_at = now
    await session.flush()
    await _recompute(session, enrollment.tenant_id, [enrollment], {enrollment.id: Activity(lesson_id, now)})
    return progress


async def migrate_enrollments(
    session: AsyncSession, course_id: UUID, version_id: UUID, enrollment_ids: list[UUID] | None
) -> int:
    """Move enrolments of a course onto another version and recompute their progress."""
    query = update(Enrollment).where(Enrollment.course_id == course_id)
    if enrollment_ids is not None:
        query = query.where(Enrollment.id.in_(enrollment_ids))
    else:
        query = query.where(Enrollment.status == EnrollmentStatus.ACTIVE)
    result = await session.execute(
        query.values(version_id=version_id).returning(Enrollment.id, Enrollment.tenant_id),
        execution_options={"synchronize_session": False},
    )
    moved = result.all()
    if moved:
        await recompute_enrollments(session, moved[0].tenant_id, {row.id for row in moved})
    return len(moved)
