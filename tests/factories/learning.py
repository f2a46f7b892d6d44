"""Enrolment and progress rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.learning.models import Enrollment, LearningOutboxEntry, LessonProgress, ProgressDeadLetter, ProgressEvent
from tests.factories.base import add, row_factory
from tests.factories.catalog import make_course, make_lesson
from tests.factories.identity import make_user


@row_factory("enrollments")
async def make_enrollment(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Enrollment:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    if "course_id" not in fields:
        course = await make_course(session, tenant_id)
        fields["course_id"] = course.id
        fields.setdefault("course_owner", course.catalogue_owner)
    fields.setdefault("course_owner", tenant_id)
    return await add(session, Enrollment(tenant_id=tenant_id, **fields))


@row_factory("lesson_progress")
async def make_lesson_progress(session: AsyncSession, tenant_id: UUID, **fields: Any) -> LessonProgress:
    lesson = await make_lesson(session, tenant_id)
    enrollment = await make_enrollment(session, tenant_id, course_id=lesson.course_id)
    values: dict[str, Any] = {
        "enrollment_id": enrollment.id,
        "user_id": enrollment.user_id,
        "lesson_id": lesson.id,
        "lesson_owner": lesson.catalogue_owner,
    }
    values.update(fields)
    return await add(session, LessonProgress(tenant_id=tenant_id, **values))


@row_factory("progress_events")
async def make_progress_event(session: AsyncSession, tenant_id: UUID, **fields: Any) -> ProgressEvent:
    user = await make_user(session, tenant_id)
    values: dict[str, Any] = {
        "user_id": user.id,
        "client_event_id": uuid.uuid4().hex,
        "kind": "lesson_viewed",
        "lesson_id": uuid.uuid4(),
        "course_id": uuid.uuid4(),
        "occurred_at": datetime.now(UTC),
    }
    values.update(fields)
    return await add(session, ProgressEvent(tenant_id=tenant_id, **values))


@row_factory("learning_outbox")
async def make_outbox_entry(session: AsyncSession, tenant_id: UUID, **fields: Any) -> LearningOutboxEntry:
    enrollment = await make_enrollment(session, tenant_id)
    values: dict[str, Any] = {
        "enrollment_id": enrollment.id,
        "user_id": enrollment.user_id,
        "course_id": enrollment.course_id,
        "kind": "milestone",
        "milestone": 25,
        "dedupe_key": f"milestone:{enrollment.id}:25",
    }
    values.update(fields)
    return await add(session, LearningOutboxEntry(tenant_id=tenant_id, **values))


@row_factory("progress_dead_letters")
async def make_dead_letter(session: AsyncSession, tenant_id: UUID, **fields: Any) -> ProgressDeadLetter:
    values: dict[str, Any] = {
        "stream_entry_id": f"{uuid.uuid4().int % 10**13}-0",
        "event_index": 0,
        "raw_event": "{}",
        "reason": "not storable",
    }
    values.update(fields)
    return await add(session, ProgressDeadLetter(tenant_id=tenant_id, **values))
