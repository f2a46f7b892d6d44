"""Course analytics: the worker's refresh of the rollups, and the reads the pages make.

The refresh is the analytics read side of learning: it inserts from learning's rollup statements
(`lms.learning.queries`, over the rows the progress fold keeps current) for the courses that had
activity since the tenant's mark, on the tenant-bound session, so RLS applies. A tenant's first refresh
rewrites each course whole; later ones recount only the learners and lessons whose rows changed
(`refresh_course`), which gives the same rows.
Pages read only the rollups: their cost depends on the course's size in lessons and days, not on
the number of progress events.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Insert,
    MetaData,
    Row,
    Select,
    String,
    Table,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.courses.models import CourseDay, LearnerStats, LessonStats, RollupMark
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning import queries as learning
from lms.lib import clock
from lms.lib.spreadsheet import safe_cell
from lms.tenancy.queries import active_tenant_ids

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How far back each refresh looks again: a row written just before a refresh may be in a transaction
# that commits after it; the next refresh sees it as long as it committed within this long.
SETTLE = timedelta(seconds=30)
# Memory for each sort and hash of a refresh (its transaction only).
WORK_MEM = "64MB"

LEARNER_COLUMNS = [
    "user_id",
    "status",
    "enrolled_at",
    "completion_pct",
    "lessons_completed",
    "average_score",
    "completed_at",
    "last_activity_at",
    "progress_activity_at",
]

# Scratch tables of one course's refresh (dropped at commit); their own metadata, so no migration sees them.
_scratch = MetaData()
_changed = Table(
    "rollup_changed",
    _scratch,
    Column("user_id", PgUUID(as_uuid=True)),
    Column("lesson_id", PgUUID(as_uuid=True)),
    prefixes=["TEMPORARY"],
)
_enrolments = Table(
    "rollup_enrolments",
    _scratch,
    Column("user_id", PgUUID(as_uuid=True)),
    Column("status", String),
    Column("enrolled_at", DateTime(timezone=True)),
    Column("completion_pct", Float),
    Column("completed_at", DateTime(timezone=True)),
    Column("last_activity_at", DateTime(timezone=True)),
    prefixes=["TEMPORARY"],
)
_recount = Table("rollup_recount", _scratch, Column("user_id", PgUUID(as_uuid=True)), prefixes=["TEMPORARY"])
_CREATE_SCRATCH = (
    "drop table if exists rollup_changed, rollup_enrolments, rollup_recount",
    "create temporary table rollup_changed (user_id uuid, lesson_id uuid) on commit drop",
    """create temporary table rollup_enrolments (user_id uuid primary key, status text, enrolled_at timestamptz,
       completion_pct float8, completed_at timestamptz, last_activity_at timestamptz) on commit drop""",
    "create temporary table rollup_recount (user_id uuid primary key) on commit drop",
)
# Learners whose enrolment's completion changed with no progress row written: their progress rows were
# removed (an enrolment reopened for recertification starts again without them).
_PROGRESS_REMOVED = text(
    """
    select exists (
        select 1 from rollup_enrolments e
          join analytics_learners l on l.course_id = :course and l.user_id = e.user_id
         where l.completion_pct is distinct from e.completion_pct
           and e.user_id not in (select user_id from rollup_changed))
    """
)
# Learners recounted from their progress rows: those with progress written since the mark, new
# enrolments (no rollup row yet), and those whose completion changed.
_PICK_RECOUNT = text(
    """
    insert into rollup_recount
    select user_id from rollup_changed
    union
    select e.user_id from rollup_enrolments e
      left join analytics_learners l on l.course_id = :course and l.user_id = e.user_id
     where l.id is null or l.completion_pct is distinct from e.completion_pct
    """
)
# Learners whose enrolment changed but none of their progress rows: the enrolment's columns, and the
# last activity from the enrolment's and the latest progress kept in the row.
_UPDATE_FROM_ENROLMENTS = text(
    """
    update analytics_learners l
       set status = e.status, enrolled_at = e.enrolled_at, completion_pct = e.completion_pct,
           completed_at = e.completed_at, last_activity_at = greatest(e.last_activity_at, l.progress_activity_at),
           updated_at = now()
      from rollup_enrolments e
     where l.course_id = :course and l.user_id = e.user_id
       and not exists (select 1 from rollup_recount r where r.user_id = e.user_id)
    """
)


def _insert_from(
    model: type[CourseDay] | type[LessonStats] | type[LearnerStats],
    columns: list[str],
    source: Select[Any],
    tenant_id: UUID,
    course_id: UUID,
) -> Insert:
    """`insert into <rollup> (...) select <new id>, tenant, course, <learning's columns>, now, now`."""
    rows = source.subquery("source")
    picked = select(func.gen_random_uuid(), literal(tenant_id), literal(course_id), *rows.c, func.now(), func.now())
    return insert(model).from_select(["id", "tenant_id", "course_id", *columns, "created_at", "updated_at"], picked)


async def _rewrite_days(session: AsyncSession, tenant_id: UUID, course_id: UUID) -> None:
    """Days come from the enrolments alone (one row per learner): recounted whole, which is cheap."""
    await session.execute(delete(CourseDay).where(CourseDay.course_id == course_id))
    await session.execute(
        _insert_from(
            CourseDay, ["day", "enrolments", "completions"], learning.enrolment_days(course_id), tenant_id, course_id
        )
    )


async def rebuild_course(session: AsyncSession, tenant_id: UUID, course_id: UUID) -> None:
    """Rewrite one course's rollups from learning's rows (idempotent: same input, same rows)."""
    for model in (LessonStats, LearnerStats):
        await session.execute(delete(model).where(model.course_id == course_id))
    await _rewrite_days(session, tenant_id, course_id)
    await session.execute(
        _insert_from(
            LessonStats,
            ["lesson_id", "started", "completed", "average_score"],
            learning.lesson_counts(course_id),
            tenant_id,
            course_id,
        )
    )
    await session.execute(
        _insert_from(LearnerStats, LEARNER_COLUMNS, learning.learner_progress(course_id), tenant_id, course_id)
    )


async def refresh_course(session: AsyncSession, tenant_id: UUID, course_id: UUID, since: datetime) -> None:
    """Bring one course's rollups up to date with what was written after `since`: the lessons and the
    learners with progress rows written since are recounted from their rows (and learners whose
    completion changed); learners whose enrolment alone changed take the enrolment's columns; learners
    no longer enrolled leave. Gives the rows
    `rebuild_course` gives, reading only the changed learners' and lessons' progress."""
    await _rewrite_days(session, tenant_id, course_id)
    for statement in _CREATE_SCRATCH:
        await session.execute(text(statement))
    await session.execute(
        insert(_changed).from_select(["user_id", "lesson_id"], learning.progress_changed_since(course_id, since))
    )
    await session.execute(
        insert(_enrolments).from_select(
            [c.name for c in _enrolments.c], learning.enrolments_changed_since(course_id, since)
        )
    )
    await session.execute(text("analyze rollup_changed"))
    await session.execute(text("analyze rollup_enrolments"))
    # Progress rows removed (with an enrolment, or when it was reopened) leave no trace to find their
    # lessons by, so every lesson is recounted then (rare: enrolments are kept when a learner stops).
    removed = bool(await session.scalar(_PROGRESS_REMOVED, {"course": course_id}))
    left = await session.execute(
        delete(LearnerStats).where(
            LearnerStats.course_id == course_id, LearnerStats.user_id.not_in(learning.course_learner_ids(course_id))
        )
    )
    # The lessons as a list (a course has hundreds at most): the planner then knows how many rows it
    # reads (with a subquery it did not, and chose a plan ten times slower than the whole count).
    lessons = list((await session.execute(select(_changed.c.lesson_id).distinct())).scalars())
    if removed or int(left.rowcount or 0):  # type: ignore[attr-defined]
        await session.execute(delete(LessonStats).where(LessonStats.course_id == course_id))
        counts = learning.lesson_counts(course_id)
    else:
        await session.execute(
            delete(LessonStats).where(LessonStats.course_id == course_id, LessonStats.lesson_id.in_(lessons))
        )
        counts = learning.lesson_counts(course_id, lessons)
    await session.execute(
        _insert_from(LessonStats, ["lesson_id", "started", "completed", "average_score"], counts, tenant_id, course_id)
    )
    await session.execute(_PICK_RECOUNT, {"course": course_id})
    await session.execute(text("analyze rollup_recount"))
    recount = list((await session.execute(select(_recount.c.user_id))).scalars())
    await session.execute(
        delete(LearnerStats).where(
            LearnerStats.course_id == course_id, LearnerStats.user_id.in_(select(_recount.c.user_id))
        )
    )
    # As a list too (one array parameter), for the same reason as the lessons.
    await session.execute(
        _insert_from(LearnerStats, LEARNER_COLUMNS, learning.learner_progress(course_id, recount), tenant_id, course_id)
    )
    await session.execute(_UPDATE_FROM_ENROLMENTS, {"course": course_id})


async def refresh_tenant(session: AsyncSession, tenant_id: UUID, settle: timedelta = SETTLE) -> int:
    """Refresh the courses with activity since the tenant's mark; returns how many were refreshed.
    The first refresh rebuilds every course; later ones recount only what changed since the mark,
    which is set `settle` before this refresh started (see `SETTLE`)."""
    until = clock.now() - settle
    seen = await session.scalar(select(RollupMark.refreshed_to))
    if seen is not None and not await session.scalar(select(learning.courses_active_since(seen).exists())):
        # Nothing new: a read-only transaction (no lock, no write, no commit to flush). The mark stays;
        # the next look reads the same empty range of the index.
        return 0
    mark_row = await session.scalar(select(RollupMark).with_for_update())
    since = mark_row.refreshed_to if mark_row is not None else None
    courses = list((await session.execute(learning.courses_active_since(since or EPOCH))).scalars())
    if courses:  # room to count a large course's progress rows in memory (the default spills to disk)
        await session.execute(text(f"set local work_mem = '{WORK_MEM}'"))
    for course_id in courses:
        if since is None:
            await rebuild_course(session, tenant_id, course_id)
        else:
            await refresh_course(session, tenant_id, course_id, since)
    if mark_row is None:
        session.add(RollupMark(tenant_id=tenant_id, refreshed_to=until))
    elif until > mark_row.refreshed_to:
        mark_row.refreshed_to = until
    await session.flush()
    return len(courses)


async def refresh_all(db: Database, settle: timedelta = SETTLE) -> int:
    """The worker's job: every active tenant, each on its own tenant-bound session."""
    async with db.operator_sessions() as session:
        tenants = await active_tenant_ids(session)
    refreshed = 0
    for tenant_id in tenants:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            refreshed += await refresh_tenant(session, tenant_id, settle)
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


async def tenant_days(session: AsyncSession, since: date) -> dict[date, tuple[int, int]]:
    """The bound tenant's enrolments and completions per day from `since` on, over all its courses
    (from the rollups; days without any are absent)."""
    rows = await session.execute(
        select(CourseDay.day, func.sum(CourseDay.enrolments), func.sum(CourseDay.completions))
        .where(CourseDay.day >= since)
        .group_by(CourseDay.day)
    )
    return {day: (int(enrolled), int(completed)) for day, enrolled, completed in rows}


GradebookRow = Row[UUID, str, datetime, float, int, float | None, datetime | None, datetime | None]

GRADEBOOK_SORTS = {
    "name": None,
    "progress": LearnerStats.completion_pct.desc(),
    "score": LearnerStats.average_score.desc().nulls_last(),
    "activity": LearnerStats.last_activity_at.desc().nulls_last(),
}


async def gradebook(
    session: AsyncSession, course_id: UUID, *, status: str | None = None, sort: str = "activity", limit: int = 5000
) -> list[GradebookRow]:
    """The gradebook's rows as plain rows (its columns by name): thousands of learners are read per page
    view, and building ORM objects for them cost more than the query itself."""
    query = select(
        LearnerStats.user_id,
        LearnerStats.status,
        LearnerStats.enrolled_at,
        LearnerStats.completion_pct,
        LearnerStats.lessons_completed,
        LearnerStats.average_score,
        LearnerStats.completed_at,
        LearnerStats.last_activity_at,
    ).where(LearnerStats.course_id == course_id)
    if status:
        query = query.where(LearnerStats.status == status)
    order = GRADEBOOK_SORTS.get(sort)
    query = query.order_by(order if order is not None else LearnerStats.enrolled_at, LearnerStats.user_id)
    return list((await session.execute(query.limit(limit))).all())


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
