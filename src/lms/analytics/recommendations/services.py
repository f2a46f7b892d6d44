"""Recommendations and streaks.

"Next in track" (the following course of a program the learner progressed in), "learners like you also
took" (item-to-item co-enrolment, computed nightly per tenant into `course_similarities`) and "popular in
your team" (the learner's groups) are blended into one list that never holds a course the learner has
an enrolment in (finished or not) nor one they cannot enrol in, each with its reason. Streaks count
consecutive days with learning activity; the weekly goal compares this week's active minutes to the goal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.recommendations.models import CourseSimilarity, LearningGoal
from lms.catalog.queries import course_titles, next_in_programs, open_courses
from lms.identity.queries import group_members, user_groups
from lms.learning.queries import active_minutes_by_day, co_enrolment_select, course_statuses_of, popular_among
from lms.learning.schemas import EnrollmentStatus
from lms.lib import clock
from lms.lib.errors import ValidationFailed
from lms.lib.ids import new_id

SIMILAR_PER_COURSE = 20
MIN_TOGETHER = 2
# Blend weights: a program's next step first, then co-enrolment, then the team's favourites.
TRACK_WEIGHT = 3.0
SIMILAR_WEIGHT = 1.0
TEAM_WEIGHT = 0.5
TEAM_SAMPLE = 5000
MAX_GOAL_MINUTES = 7 * 24 * 60


async def recompute_similarities(session: AsyncSession, tenant_id: UUID) -> int:
    """Replace the tenant's similarity table in one transaction (readers see the old or the new one)."""
    await session.execute(delete(CourseSimilarity))
    source = co_enrolment_select(SIMILAR_PER_COURSE, MIN_TOGETHER).subquery("similar")
    at = clock.now()
    statement = insert(CourseSimilarity).from_select(
        [
            "id",
            "tenant_id",
            "course_id",
            "similar_course_id",
            "together",
            "score",
            "computed_at",
            "created_at",
            "updated_at",
        ],
        select(
            func.gen_random_uuid(),
            literal(tenant_id),
            source.c.course_id,
            source.c.other_id,
            source.c.together,
            source.c.score,
            literal(at),
            literal(at),
            literal(at),
        ),
    )
    result = await session.execute(statement)
    return result.rowcount or 0  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Recommendation:
    course_id: UUID
    title: str
    summary: str
    # track | similar | team
    reason: str
    # The course or program the reason names ("because you completed X"), or the team's name.
    because: str
    score: float


async def similar_scores(session: AsyncSession, course_ids: set[UUID]) -> dict[UUID, list[tuple[UUID, float]]]:
    """For each course, its stored similar courses with their scores."""
    if not course_ids:
        return {}
    rows = await session.execute(
        select(CourseSimilarity.course_id, CourseSimilarity.similar_course_id, CourseSimilarity.score).where(
            CourseSimilarity.course_id.in_(course_ids)
        )
    )
    out: dict[UUID, list[tuple[UUID, float]]] = defaultdict(list)
    for course_id, other, score in rows:
        out[course_id].append((other, float(score)))
    return out


async def recommend(
    session: AsyncSession,
    user_id: UUID,
    *,
    limit: int = 6,
    context_course: UUID | None = None,
    statuses: dict[UUID, EnrollmentStatus] | None = None,
) -> list[Recommendation]:
    """The learner's blended recommendations, best first. With `context_course` (a course page), courses
    like that one come first. `statuses`: every enrolment of the learner when the caller has read them."""
    if statuses is None:
        statuses = await course_statuses_of(session, user_id)
    taken = set(statuses)
    completed = {c for c, s in statuses.items() if s.value == "completed"}
    scores: dict[UUID, float] = defaultdict(float)
    reasons: dict[UUID, tuple[float, str, str | UUID]] = {}

    def add(course_id: UUID, score: float, reason: str, because: str | UUID) -> None:
        if course_id in taken or course_id == context_course:
            return
        scores[course_id] += score
        if course_id not in reasons or score > reasons[course_id][0]:
            reasons[course_id] = (score, reason, because)

    for step in await next_in_programs(session, completed):
        add(step.next_course_id, TRACK_WEIGHT, "track", step.after_course_id)
    seeds = set(taken) | ({context_course} if context_course else set())
    for seed, similar in (await similar_scores(session, seeds)).items():
        weight = SIMILAR_WEIGHT * (2.0 if seed == context_course else 1.0 if seed in completed else 0.7)
        for other, score in similar:
            add(other, weight * score, "similar", seed)
    groups = await user_groups(session, user_id)
    if groups:
        members = [m for m in await group_members(session, groups) if m != user_id][:TEAM_SAMPLE]
        popular = await popular_among(session, members, limit * 4)
        if popular and members:
            for course_id, learners in popular:
                add(course_id, TEAM_WEIGHT * learners / len(members), "team", groups[0])
    if not scores:
        return []
    ranked = sorted(scores, key=lambda c: (-scores[c], str(c)))
    candidates = ranked[: limit * 4]
    open_now = await open_courses(session, set(candidates))
    named = await course_titles(session, {r[2] for r in reasons.values() if isinstance(r[2], UUID)})
    out = []
    for course_id in candidates:
        course = open_now.get(course_id)
        if course is None:
            continue
        _, reason, because = reasons[course_id]
        because_text = named.get(because, "") if isinstance(because, UUID) else because
        out.append(Recommendation(course.id, course.title, course.summary, reason, because_text, scores[course_id]))
        if len(out) == limit:
            break
    return out


# -- streaks and the weekly goal ------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    days: int
    active_today: bool
    week_minutes: int
    goal_minutes: int | None
    # Monday..Sunday of this week: noon of each local day (for formatting), and its minutes.
    week: list[tuple[datetime, int]]

    @property
    def goal_fraction(self) -> float:
        if not self.goal_minutes:
            return 0.0
        return min(1.0, self.week_minutes / self.goal_minutes)


def _zone(time_zone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def count_streak(active_days: set[date], today: date) -> int:
    """Consecutive active days ending today, or yesterday when today has no activity yet."""
    day = today if today in active_days else today - timedelta(days=1)
    streak = 0
    while day in active_days:
        streak += 1
        day -= timedelta(days=1)
    return streak


async def streak_of(session: AsyncSession, user_id: UUID, time_zone: str | None, now: datetime | None = None) -> Streak:
    zone = _zone(time_zone)
    now = now or clock.now()
    today = now.astimezone(zone).date()
    since = datetime.combine(today - timedelta(days=400), datetime.min.time(), zone)
    minutes = await active_minutes_by_day(session, user_id, since, zone.key)
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    week = [(datetime.combine(day, time(12), zone), minutes.get(day, 0)) for day in days]
    goal = await session.scalar(select(LearningGoal.weekly_minutes).where(LearningGoal.user_id == user_id))
    return Streak(
        days=count_streak({d for d, m in minutes.items() if m > 0}, today),
        active_today=minutes.get(today, 0) > 0,
        week_minutes=sum(m for _, m in week),
        goal_minutes=goal,
        week=week,
    )


async def set_weekly_goal(session: AsyncSession, tenant_id: UUID, user_id: UUID, minutes: int | None) -> int | None:
    """Set (or, with None or 0, clear) the learner's weekly goal in minutes."""
    if not minutes:
        await session.execute(delete(LearningGoal).where(LearningGoal.user_id == user_id))
        return None
    if not 1 <= minutes <= MAX_GOAL_MINUTES:
        raise ValidationFailed(
            f"the weekly goal must be between 1 and {MAX_GOAL_MINUTES} minutes", field="weekly_minutes"
        )
    at = clock.now()
    statement = pg_insert(LearningGoal).values(
        id=new_id(), tenant_id=tenant_id, user_id=user_id, weekly_minutes=minutes, created_at=at, updated_at=at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"], set_={"weekly_minutes": minutes, "updated_at": at}
        )
    )
    return minutes
