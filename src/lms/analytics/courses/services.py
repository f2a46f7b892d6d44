"""Course analytics: the worker's refresh of the rollups, and the reads the pages make.

The refresh is the analytics read side of learning: it reads the enrolment and lesson progress rows
(which the progress fold keeps current) in set-based statements and rewrites the rollups of the
courses that had activity since the tenant's mark, on the tenant-bound session, so RLS applies.
Pages read only the rollups: their cost depends on the course's size in lessons and days, not on
the number of progress events.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.courses.models import CourseDay, LearnerStats, LessonStats, RollupMark
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.spreadsheet import safe_cell
from lms.tenancy.queries import active_tenant_ids

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_CHANGED_COURSES = text(
    """
    select distinct course_id from enrollments
    where created_at > :mark or updated_at > :mark or last_activity_at > :mark or completed_at > :mark
    """
)
_DAYS = text(
    """
    insert into analytics_course_days (id, tenant_id, course_id, day, enrolments, completions, created_at, updated_at)
    select gen_random_uuid(), :tenant, :course, day, sum(enrolled)::int, sum(completed)::int, now(), now()
    from (
        select (created_at at time zone 'UTC')::date as day, 1 as enrolled, 0 as completed
        from enrollments where course_id = :course
        union all
        select (completed_at at time zone 'UTC')::date, 0, 1
        from enrollments where course_id = :course and completed_at is not null
    ) as events
    group by day
    """
)
_LESSONS = text(
    """
    insert into analytics_lesson_stats
        (id, tenant_id, course_id, lesson_id, started, completed, average_score, created_at, updated_at)
    select gen_random_uuid(), :tenant, :course, lp.lesson_id, count(*)::int,
           (count(*) filter (where lp.status = 'completed'))::int, avg(lp.score), now(), now()
    from lesson_progress lp join enrollments e on e.id = lp.enrollment_id
    where e.course_id = :course
    group by lp.lesson_id
    """
)
_LEARNERS = text(
    """
    insert into analytics_learners
        (id, tenant_id, course_id, user_id, status, enrolled_at, completion_pct, lessons_completed,
         average_score, completed_at, last_activity_at, created_at, updated_at)
    select gen_random_uuid(), :tenant, :course, e.user_id, e.status::text, e.created_at, e.completion_pct,
           (count(lp.id) filter (where lp.status = 'completed'))::int, avg(lp.score),
           e.completed_at, greatest(e.last_activity_at, max(lp.last_event_at)), now(), now()
    from enrollments e left join lesson_progress lp on lp.enrollment_id = e.id
    where e.course_id = :course
    group by e.id
    """
)


async def refresh_course(session: AsyncSession, tenant_id: UUID, course_id: UUID) -> None:
    """Rewrite one course's rollups from the learning rows (idempotent: same input, same rows)."""
    params = {"tenant": tenant_id, "course": course_id}
    for table in ("analytics_course_days", "analytics_lesson_stats", "analytics_learners"):
        await session.execute(text(f"delete from {table} where course_id = :course"), params)
    await session.execute(_DAYS, params)
    await session.execute(_LESSONS, params)
    await session.execute(_LEARNERS, params)


async def refresh_tenant(session: AsyncSession, tenant_id: UUID) -> int:
    """Refresh the courses with activity since the tenant's mark; returns how many were refreshed."""
    mark_row = await session.scalar(select(RollupMark).with_for_update())
    started = clock.now()
    mark = mark_row.refreshed_to if mark_row is not None else EPOCH
    courses = list((await session.execute(_CHANGED_COURSES, {"mark": mark})).scalars())
    for course_id in courses:
        await refresh_course(session, tenant_id, course_id)
    if mark_row is None:
        session.add(RollupMark(tenant_id=tenant_id, refreshed_to=started))
    else:
        mark_row.refreshed_to = started
    await session.flush()
    return len(courses)


async def refresh_all(db: Database) -> int:
    """The worker's job: every active tenant, each on its own tenant-bound session."""
    async with db.operator_sessions() as session:
        tenants = await active_tenant_ids(session)
    refreshed = 0
    for tenant_id in tenants:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            refreshed += await refresh_tenant(session, tenant_id)
    return refreshed


@dataclass(frozen=True)
class CourseAnalytics:
    days: list[tuple[date, int, int]]
    lessons: dict[UUID, tuple[int, int, float | None]]
    learners: int
    completed: int
    refreshed_to: datetime | None


async def course_analytics(session: AsyncSession, course_id: UUID) -> CourseAnalytics:
    """What the analytics page charts, from the rollups only."""
    days = await session.execute(
        select(CourseDay.day, CourseDay.enrolments, CourseDay.completions)
        .where(CourseDay.course_id == course_id)
        .order_by(CourseDay.day)
    )
    lessons = await session.execute(
        select(LessonStats.lesson_id, LessonStats.started, LessonStats.completed, LessonStats.average_score).where(
            LessonStats.course_id == course_id
        )
    )
    day_rows = [(d, e, c) for d, e, c in days]
    mark = await session.scalar(select(RollupMark.refreshed_to))
    return CourseAnalytics(
        days=day_rows,
        lessons={lesson_id: (started, completed, score) for lesson_id, started, completed, score in lessons},
        learners=sum(e for _, e, _ in day_rows),
        completed=sum(c for _, _, c in day_rows),
        refreshed_to=mark,
    )


GRADEBOOK_SORTS = {
    "name": None,
    "progress": LearnerStats.completion_pct.desc(),
    "score": LearnerStats.average_score.desc().nulls_last(),
    "activity": LearnerStats.last_activity_at.desc().nulls_last(),
}


async def gradebook(
    session: AsyncSession, course_id: UUID, *, status: str | None = None, sort: str = "activity", limit: int = 5000
) -> list[LearnerStats]:
    query = select(LearnerStats).where(LearnerStats.course_id == course_id)
    if status:
        query = query.where(LearnerStats.status == status)
    order = GRADEBOOK_SORTS.get(sort)
    query = query.order_by(order if order is not None else LearnerStats.enrolled_at, LearnerStats.user_id)
    return list((await session.scalars(query.limit(limit))).all())


def gradebook_csv(rows: list[dict[str, Any]]) -> bytes:
    """The gradebook as CSV (UTF-8 with a byte order mark, so spreadsheet programs read it right)."""
    buffer = io.StringIO()
    columns = [
        "name",
        "email",
        "status",
        "progress_pct",
        "lessons_completed",
        "average_score",
        "last_activity",
        "completed_at",
    ]
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return ("\ufeff" + buffer.getvalue()).encode()
