"""Learning reads other domains may call: who is enrolled where, and what a completed enrolment was.

They run on the caller's tenant-bound session, so RLS scopes them like any learning query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Date,
    Exists,
    Float,
    Integer,
    Select,
    String,
    Uuid,
    and_,
    cast,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from lms.catalog.queries import course_title_of
from lms.learning.models import Enrollment, EnrollmentStatus, LessonProgress, ProgressEvent, ProgressStatus

# The lesson as the learner's course version has it (403 when locked or not enrolled), for the lesson
# pages of other domains (quizzes, assignments).
from lms.learning.services.views import open_lesson as open_lesson
from lms.lib import clock
from lms.lib.records import row_record

# Enrolments that still open the course's content (finished learners may come back to it).
TAKING_PART = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


async def is_enrolled(session: AsyncSession, user_id: UUID, course_id: UUID) -> bool:
    """An active or completed enrolment of the user in the course."""
    found = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.user_id == user_id, Enrollment.course_id == course_id, Enrollment.status.in_(TAKING_PART)
        )
    )
    return found is not None


def enrolled_in(
    user_id: UUID | ColumnElement[UUID], course_id: ColumnElement[UUID] | QueryableAttribute[UUID]
) -> Exists:
    """Whether the user has an active or completed enrolment in the course `course_id` refers to, as a
    column another domain can select in its own statement (`is_enrolled` without a round trip of its own)."""
    return exists(
        select(Enrollment.id).where(
            Enrollment.user_id == user_id, Enrollment.course_id == course_id, Enrollment.status.in_(TAKING_PART)
        )
    )


async def enrolled_user_ids(session: AsyncSession, course_id: UUID) -> set[UUID]:
    """Users with an active or completed enrolment in the course."""
    rows = await session.scalars(
        select(Enrollment.user_id).where(Enrollment.course_id == course_id, Enrollment.status.in_(TAKING_PART))
    )
    return set(rows)


async def enrolled_unexpired_in_any(session: AsyncSession, user_id: UUID, course_ids: list[UUID]) -> bool:
    """An active or completed enrolment, not past its expiry, in one of these courses."""
    if not course_ids:
        return False
    query = (
        select(Enrollment.id)
        .where(
            Enrollment.course_id.in_(course_ids),
            Enrollment.user_id == user_id,
            Enrollment.status.in_(TAKING_PART),
            or_(Enrollment.expires_at.is_(None), Enrollment.expires_at > clock.now()),
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


@dataclass(frozen=True)
class CourseEnrollment:
    """What a course page shows of the viewer's own enrolment."""

    id: UUID
    status: EnrollmentStatus
    completion_pct: float
    due_at: datetime | None


async def enrollment_in_course(session: AsyncSession, user_id: UUID, course_id: UUID) -> CourseEnrollment | None:
    row = (
        await session.execute(
            select(Enrollment.id, Enrollment.status, Enrollment.completion_pct, Enrollment.due_at).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        )
    ).first()
    return CourseEnrollment(*row) if row is not None else None


@dataclass(frozen=True)
class EnrollmentFacts:
    id: UUID
    user_id: UUID
    course_id: UUID
    course_owner: UUID
    status: EnrollmentStatus
    completed_at: datetime | None


async def enrollment_facts(session: AsyncSession, enrollment_id: UUID) -> EnrollmentFacts | None:
    e = await session.get(Enrollment, enrollment_id)
    if e is None:
        return None
    return EnrollmentFacts(e.id, e.user_id, e.course_id, e.course_owner, e.status, e.completed_at)


_LEARNERS_USING = text(
    """
    select count(distinct e.id)
      from enrollments e
      left join course_versions v on v.id = e.version_id
     where e.course_id = :course_id
       and e.status in ('active', 'completed')
       and (
            exists (select 1 from lesson_progress p
                     where p.enrollment_id = e.id and p.lesson_id::text = any(cast(:lesson_ids as text[])))
         or exists (select 1 from jsonb_array_elements(v.snapshot -> 'modules') m,
                                  jsonb_array_elements(m -> 'lessons') l
                     where (l ->> 'id') = any(cast(:lesson_ids as text[])))
       )
    """
)


async def learners_using_lessons(session: AsyncSession, course_id: UUID, lesson_ids: list[UUID]) -> int:
    """Enrolments whose version contains any of these lessons, or that have progress in them."""
    if not lesson_ids:
        return 0
    found = await session.execute(_LEARNERS_USING, {"course_id": course_id, "lesson_ids": [str(i) for i in lesson_ids]})
    return int(found.scalar_one())


async def progress_in_courses(session: AsyncSession, user_id: UUID, course_ids: list[UUID]) -> dict[UUID, float]:
    """Of these courses, those the user is enrolled in (active or completed), with their completion in %."""
    if not course_ids:
        return {}
    rows = await session.execute(
        select(Enrollment.course_id, Enrollment.completion_pct).where(
            Enrollment.user_id == user_id,
            Enrollment.course_id.in_(course_ids),
            Enrollment.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)),
        )
    )
    return {course_id: float(pct) for course_id, pct in rows}


async def course_statuses_of(session: AsyncSession, user_id: UUID) -> dict[UUID, EnrollmentStatus]:
    """Every course the user has an enrolment in, with its status (for recommendations to leave out)."""
    rows = await session.execute(select(Enrollment.course_id, Enrollment.status).where(Enrollment.user_id == user_id))
    return {course_id: status for course_id, status in rows}


def co_enrolment_select(per_course: int, min_together: int = 2) -> Select[tuple[UUID, UUID, int, float]]:
    """For each course, its `per_course` most similar courses by co-enrolment: how many learners took
    both, and the cosine of the two courses' learner sets (`together / sqrt(n1 * n2)`). A statement to
    run (or insert from) on a tenant-bound session: RLS keeps it to the tenant's enrolments."""
    # Straight from the table (no CTE), so the planner joins with the table's statistics and indexes.
    first, second = aliased(Enrollment, name="first"), aliased(Enrollment, name="second")
    popularity = (
        select(Enrollment.course_id.label("course_id"), func.count().label("n"))
        .where(Enrollment.status.in_(TAKING_PART))
        .group_by(Enrollment.course_id)
        .subquery("popularity")
    )
    pairs = (
        select(
            first.course_id.label("course_id"),
            second.course_id.label("other_id"),
            func.count().label("together"),
        )
        .join(second, and_(second.user_id == first.user_id, second.course_id != first.course_id))
        .where(first.status.in_(TAKING_PART), second.status.in_(TAKING_PART))
        .group_by(first.course_id, second.course_id)
        .having(func.count() >= min_together)
        .subquery("pairs")
    )
    p1, p2 = popularity.alias("p1"), popularity.alias("p2")
    score = (cast(pairs.c.together, Float) / func.sqrt(cast(p1.c.n, Float) * cast(p2.c.n, Float))).label("score")
    ranked = (
        select(
            pairs.c.course_id,
            pairs.c.other_id,
            pairs.c.together,
            score,
            func.row_number()
            .over(partition_by=pairs.c.course_id, order_by=(score.desc(), pairs.c.other_id))
            .label("rank"),
        )
        .join(p1, p1.c.course_id == pairs.c.course_id)
        .join(p2, p2.c.course_id == pairs.c.other_id)
        .subquery("ranked")
    )
    return select(ranked.c.course_id, ranked.c.other_id, ranked.c.together, ranked.c.score).where(
        ranked.c.rank <= per_course
    )


async def popular_among(session: AsyncSession, user_ids: list[UUID], limit: int) -> list[tuple[UUID, int]]:
    """The courses most of these users take or took: (course, learners), most first."""
    if not user_ids:
        return []
    rows = await session.execute(
        select(Enrollment.course_id, func.count(func.distinct(Enrollment.user_id)).label("learners"))
        .where(Enrollment.user_id.in_(user_ids), Enrollment.status.in_(TAKING_PART))
        .group_by(Enrollment.course_id)
        .order_by(text("learners DESC"), Enrollment.course_id)
        .limit(limit)
    )
    return [(course_id, int(count)) for course_id, count in rows]


async def most_enrolled(session: AsyncSession, limit: int) -> list[tuple[UUID, int]]:
    """The tenant's courses with the most learners (the "most popular" baseline of recommendations)."""
    rows = await session.execute(
        select(Enrollment.course_id, func.count().label("learners"))
        .where(Enrollment.status.in_(TAKING_PART))
        .group_by(Enrollment.course_id)
        .order_by(text("learners DESC"), Enrollment.course_id)
        .limit(limit)
    )
    return [(course_id, int(count)) for course_id, count in rows]


async def active_minutes_by_day(
    session: AsyncSession, user_id: UUID, since: datetime, time_zone: str
) -> dict[date, int]:
    """Per local day, the minutes in which the user's progress events show learning activity."""
    local = func.timezone(time_zone, ProgressEvent.occurred_at)
    minutes = (
        select(func.date_trunc("minute", local).label("minute"))
        .where(ProgressEvent.user_id == user_id, ProgressEvent.occurred_at >= since)
        .distinct()
        .subquery()
    )
    rows = await session.execute(
        select(cast(minutes.c.minute, Date).label("day"), func.count()).group_by(text("day")).order_by(text("day"))
    )
    return {day: int(count) for day, count in rows}


@dataclass(frozen=True)
class UserEnrollment:
    """One of a person's enrolments as an admin or manager sees it."""

    course_id: UUID
    course_title: str
    status: EnrollmentStatus
    completion_pct: float
    enrolled_at: datetime
    due_at: datetime | None
    completed_at: datetime | None


async def enrollments_of_user(session: AsyncSession, user_id: UUID, limit: int = 100) -> list[UserEnrollment]:
    """A person's enrolments with progress, newest first."""
    rows = await session.execute(
        select(
            Enrollment.course_id,
            course_title_of(Enrollment.course_id),
            Enrollment.status,
            Enrollment.completion_pct,
            Enrollment.created_at,
            Enrollment.due_at,
            Enrollment.completed_at,
        )
        .where(Enrollment.user_id == user_id)
        .order_by(Enrollment.created_at.desc())
        .limit(limit)
    )
    return [UserEnrollment(*row) for row in rows.all()]


@dataclass(frozen=True)
class LearnerEnrollment:
    user_id: UUID
    course_id: UUID
    course_title: str
    status: EnrollmentStatus
    completion_pct: float
    due_at: datetime | None
    completed_at: datetime | None


async def enrollments_of_users(session: AsyncSession, user_ids: list[UUID]) -> list[LearnerEnrollment]:
    """Enrolments of several people (a manager's team), soonest due first."""
    if not user_ids:
        return []
    rows = await session.execute(
        select(
            Enrollment.user_id,
            Enrollment.course_id,
            course_title_of(Enrollment.course_id),
            Enrollment.status,
            Enrollment.completion_pct,
            Enrollment.due_at,
            Enrollment.completed_at,
        )
        .where(Enrollment.user_id.in_(user_ids))
        .order_by(Enrollment.due_at.asc().nulls_last(), Enrollment.created_at)
    )
    return [LearnerEnrollment(*row) for row in rows.all()]


# Who holds a seat (billing's seats page and licence checks read these).
from lms.learning.services.seats import SeatHolder as SeatHolder  # noqa: E402
from lms.learning.services.seats import holds_seat as holds_seat  # noqa: E402
from lms.learning.services.seats import seat_holders as seat_holders  # noqa: E402
from lms.learning.services.seats import seats_in_use as seats_in_use  # noqa: E402
from lms.learning.services.seats import seats_in_use_by_tenant as seats_in_use_by_tenant  # noqa: E402


# Rollup sources for analytics: statements (not results), so the analytics domain inserts from them in
# one set-based statement while the learning tables stay this domain's business.
def courses_active_since(mark: datetime) -> Select[UUID]:
    """Courses with an enrolment created, changed, active or completed after `mark`."""
    return (
        select(Enrollment.course_id)
        .where(
            or_(
                Enrollment.created_at > mark,
                Enrollment.updated_at > mark,
                Enrollment.last_activity_at > mark,
                Enrollment.completed_at > mark,
            )
        )
        .distinct()
    )


def enrolment_days(course_id: UUID) -> Select[Any]:
    """Per UTC day: enrolments started and completions in the course."""
    started = select(
        cast(func.timezone("UTC", Enrollment.created_at), Date).label("day"),
        literal(1).label("enrolled"),
        literal(0).label("completed"),
    ).where(Enrollment.course_id == course_id)
    finished = select(cast(func.timezone("UTC", Enrollment.completed_at), Date), literal(0), literal(1)).where(
        Enrollment.course_id == course_id, Enrollment.completed_at.is_not(None)
    )
    events = union_all(started, finished).subquery("events")
    return select(
        events.c.day, cast(func.sum(events.c.enrolled), Integer), cast(func.sum(events.c.completed), Integer)
    ).group_by(events.c.day)


def lesson_counts(course_id: UUID, lesson_ids: list[UUID] | None = None) -> Select[Any]:
    """Per lesson of the course (or of those in `lesson_ids`): learners who started it, who completed
    it, and the average score."""
    query = (
        select(
            LessonProgress.lesson_id,
            cast(func.count(), Integer),
            cast(func.count().filter(LessonProgress.status == ProgressStatus.COMPLETED), Integer),
            func.avg(LessonProgress.score),
        )
        .join(Enrollment, Enrollment.id == LessonProgress.enrollment_id)
        .where(Enrollment.course_id == course_id)
        .group_by(LessonProgress.lesson_id)
    )
    if lesson_ids is not None:
        query = query.where(LessonProgress.lesson_id.in_(lesson_ids))
    return query


def learner_progress(course_id: UUID, user_ids: list[UUID] | None = None) -> Select[Any]:
    """Per learner of the course (or of those in `user_ids`): status, enrolled at, completion,
    lessons completed, average score, completed at, last activity, and the latest progress alone."""
    query = (
        select(
            Enrollment.user_id,
            cast(Enrollment.status, String),
            Enrollment.created_at,
            Enrollment.completion_pct,
            cast(func.count(LessonProgress.id).filter(LessonProgress.status == ProgressStatus.COMPLETED), Integer),
            func.avg(LessonProgress.score),
            Enrollment.completed_at,
            func.greatest(Enrollment.last_activity_at, func.max(LessonProgress.last_event_at)),
            func.max(LessonProgress.last_event_at),
        )
        .outerjoin(LessonProgress, LessonProgress.enrollment_id == Enrollment.id)
        .where(Enrollment.course_id == course_id)
        # The primary key (tenant_id, id): the enrolment's other columns follow from it.
        .group_by(Enrollment.tenant_id, Enrollment.id)
    )
    if user_ids is not None:
        query = query.where(Enrollment.user_id == func.any(cast(literal(user_ids, ARRAY(Uuid)), ARRAY(Uuid))))
    return query


def progress_changed_since(course_id: UUID, mark: datetime) -> Select[UUID, UUID]:
    """(learner, lesson) of the course's progress rows written after `mark`."""
    return (
        select(LessonProgress.user_id, LessonProgress.lesson_id)
        .join(Enrollment, Enrollment.id == LessonProgress.enrollment_id)
        .where(Enrollment.course_id == course_id, LessonProgress.updated_at > mark)
    )


def enrolments_changed_since(
    course_id: UUID, mark: datetime
) -> Select[UUID, str, datetime, float, datetime | None, datetime | None]:
    """The course's enrolments created or changed after `mark`: learner, status, enrolled at,
    completion, completed at and last activity (the columns a learner's rollup takes from them)."""
    return select(
        Enrollment.user_id,
        cast(Enrollment.status, String).label("status"),
        Enrollment.created_at,
        Enrollment.completion_pct,
        Enrollment.completed_at,
        Enrollment.last_activity_at,
    ).where(
        Enrollment.course_id == course_id,
        or_(
            Enrollment.created_at > mark,
            Enrollment.updated_at > mark,
            Enrollment.last_activity_at > mark,
            Enrollment.completed_at > mark,
        ),
    )


def course_learner_ids(course_id: UUID) -> Select[UUID]:
    """Learners enrolled in the course (any status)."""
    return select(Enrollment.user_id).where(Enrollment.course_id == course_id)


async def enrolment_records_of_user(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """A person's enrolments as plain records, for their personal data export."""
    rows = await session.scalars(
        select(Enrollment).where(Enrollment.user_id == user_id).order_by(Enrollment.created_at)
    )
    return [row_record(row) for row in rows]


async def progress_records_of_user(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """A person's progress per lesson as plain records, for their personal data export."""
    query = select(LessonProgress).where(LessonProgress.user_id == user_id).order_by(LessonProgress.created_at)
    return [row_record(row) for row in await session.scalars(query)]


@dataclass(frozen=True)
class EnrollmentInCourse:
    """One person's enrolment in a course, as the compliance report reads it."""

    id: UUID
    user_id: UUID
    status: EnrollmentStatus
    completion_pct: float
    due_at: datetime | None
    completed_at: datetime | None
    created_at: datetime


async def enrollments_in_course(
    session: AsyncSession, course_id: UUID, user_ids: list[UUID] | None = None
) -> list[EnrollmentInCourse]:
    """Enrolments in a course (of these people when given), soonest due first."""
    query = select(
        Enrollment.id,
        Enrollment.user_id,
        Enrollment.status,
        Enrollment.completion_pct,
        Enrollment.due_at,
        Enrollment.completed_at,
        Enrollment.created_at,
    ).where(Enrollment.course_id == course_id)
    if user_ids is not None:
        query = query.where(Enrollment.user_id.in_(user_ids))
    rows = await session.execute(query.order_by(Enrollment.due_at.asc().nulls_last(), Enrollment.created_at))
    return [EnrollmentInCourse(*row) for row in rows.all()]


async def without_enrollment(session: AsyncSession, course_id: UUID, user_ids: list[UUID]) -> list[UUID]:
    """Of these people, those with no enrolment of any status in the course (one set-based query)."""
    if not user_ids:
        return []
    people = select(func.unnest(cast(user_ids, ARRAY(Uuid))).label("user_id")).subquery()
    rows = await session.execute(
        select(people.c.user_id).where(
            ~select(Enrollment.id)
            .where(Enrollment.course_id == course_id, Enrollment.user_id == people.c.user_id)
            .exists()
        )
    )
    return list(rows.scalars())


def video_heartbeat_ranges(from_id: UUID, to_id: UUID) -> Select[Any]:
    """Video heartbeats stored with ids in [from_id, to_id) (UUIDv7: the order they were folded in), in
    that order, one row per range played: (user, lesson, course, occurred at, playhead, range start, range end).
    A heartbeat without ranges gives one row with null range, so its playhead still counts."""
    ranges = (
        func.jsonb_array_elements(ProgressEvent.payload["w"]).table_valued(column("value", JSONB)).lateral("played")
    )
    start = cast(ranges.c.value[0].astext, Float)
    end = cast(ranges.c.value[1].astext, Float)
    return (
        select(
            ProgressEvent.user_id,
            ProgressEvent.lesson_id,
            ProgressEvent.course_id,
            ProgressEvent.occurred_at,
            cast(ProgressEvent.payload["p"].astext, Float),
            start,
            end,
        )
        .select_from(ProgressEvent)
        .outerjoin(ranges, literal(True))
        .where(
            ProgressEvent.id >= from_id,
            ProgressEvent.id < to_id,
            ProgressEvent.kind == "video_heartbeat",
        )
        # In id order: a probe for the first one reads the primary key from `from_id` on, instead of
        # scanning the table from its start (new events are at its end).
        .order_by(ProgressEvent.id)
    )
