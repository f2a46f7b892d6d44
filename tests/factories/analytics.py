"""Analytics rows: course and video rollups, course similarities and learning goals."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.courses.models import CourseDay, LearnerStats, LessonStats, RollupMark
from lms.analytics.recommendations.models import CourseSimilarity, LearningGoal
from lms.analytics.videos.models import TTFF_BINS, VideoBucket, VideoQuality, VideoRollupMark, VideoViewer
from lms.lib import clock
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("course_similarities")
async def make_similarity(session: AsyncSession, tenant_id: UUID, **fields: Any) -> CourseSimilarity:
    values: dict[str, Any] = {
        "course_id": uuid.uuid4(),
        "similar_course_id": uuid.uuid4(),
        "together": 3,
        "score": 0.5,
        "computed_at": clock.now(),
    }
    values.update(fields)
    return await add(session, CourseSimilarity(tenant_id=tenant_id, **values))


@row_factory("learning_goals")
async def make_goal(session: AsyncSession, tenant_id: UUID, **fields: Any) -> LearningGoal:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    return await add(session, LearningGoal(tenant_id=tenant_id, weekly_minutes=60, **fields))


@row_factory("analytics_course_days")
async def make_course_day(session: AsyncSession, tenant_id: UUID, **fields: Any) -> CourseDay:
    values: dict[str, Any] = {"course_id": uuid.uuid4(), "day": date(2026, 11, 1), "enrolments": 3, "completions": 1}
    return await add(session, CourseDay(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_lesson_stats")
async def make_lesson_stats(session: AsyncSession, tenant_id: UUID, **fields: Any) -> LessonStats:
    values: dict[str, Any] = {"course_id": uuid.uuid4(), "lesson_id": uuid.uuid4(), "started": 3, "completed": 2}
    return await add(session, LessonStats(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_learners")
async def make_learner_stats(session: AsyncSession, tenant_id: UUID, **fields: Any) -> LearnerStats:
    values: dict[str, Any] = {
        "course_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "status": "active",
        "enrolled_at": datetime(2026, 11, 1, tzinfo=UTC),
        "completion_pct": 50.0,
        "lessons_completed": 2,
    }
    return await add(session, LearnerStats(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_rollup_marks")
async def make_rollup_mark(session: AsyncSession, tenant_id: UUID, **fields: Any) -> RollupMark:
    values: dict[str, Any] = {"refreshed_to": datetime(2026, 11, 1, tzinfo=UTC)}
    return await add(session, RollupMark(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_video_buckets")
async def make_video_bucket(session: AsyncSession, tenant_id: UUID, **fields: Any) -> VideoBucket:
    values: dict[str, Any] = {
        "course_id": uuid.uuid4(), "lesson_id": uuid.uuid4(), "bucket": 3, "viewers": 2, "played_ms": 2500, "stops": 1,
    }  # fmt: skip
    return await add(session, VideoBucket(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_video_viewers")
async def make_video_viewer(session: AsyncSession, tenant_id: UUID, **fields: Any) -> VideoViewer:
    values: dict[str, Any] = {
        "course_id": uuid.uuid4(),
        "lesson_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "seen": "1" * 10 + "0" * 90,
        "stop_bucket": 9,
        "position_at": datetime(2026, 11, 1, tzinfo=UTC),
    }
    return await add(session, VideoViewer(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_video_quality")
async def make_video_quality(session: AsyncSession, tenant_id: UUID, **fields: Any) -> VideoQuality:
    values: dict[str, Any] = {"asset_id": uuid.uuid4(), "sessions": 1, "ttff_bins": [1] + [0] * (TTFF_BINS - 1)}
    return await add(session, VideoQuality(tenant_id=tenant_id, **{**values, **fields}))


@row_factory("analytics_video_marks")
async def make_video_mark(session: AsyncSession, tenant_id: UUID, **fields: Any) -> VideoRollupMark:
    values: dict[str, Any] = {"refreshed_to": datetime(2026, 11, 1, tzinfo=UTC)}
    return await add(session, VideoRollupMark(tenant_id=tenant_id, **{**values, **fields}))
