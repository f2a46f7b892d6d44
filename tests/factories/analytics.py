"""Recommendation and goal rows."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.recommendations.models import CourseSimilarity, LearningGoal
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
