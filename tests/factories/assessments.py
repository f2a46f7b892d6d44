"""Assessment rows: banks, questions, quizzes, attempts, assignments, submissions, reviews, outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import (
    AssessmentOutboxEntry,
    Assignment,
    PeerReview,
    Question,
    QuestionBank,
    Quiz,
    QuizAttempt,
    Submission,
    SubmissionVersion,
)
from lms.catalog.models import LessonType
from tests.factories.base import add, row_factory
from tests.factories.catalog import make_course, make_lesson, make_module
from tests.factories.identity import make_user

SINGLE_CHOICE = {
    "type": "single_choice",
    "prompt": "Which one is a strong password?",
    "options": [{"id": "a", "text": "password1"}, {"id": "b", "text": "correct horse battery staple"}],
    "correct": "b",
}


@row_factory("question_banks")
async def make_bank(session: AsyncSession, tenant_id: UUID, **fields: Any) -> QuestionBank:
    if "course_id" not in fields:
        fields["course_id"] = (await make_course(session, tenant_id)).id
    fields.setdefault("title", "Security basics")
    return await add(session, QuestionBank(tenant_id=tenant_id, **fields))


@row_factory("questions")
async def make_question(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Question:
    if "bank_id" not in fields:
        fields["bank_id"] = (await make_bank(session, tenant_id)).id
    fields.setdefault("type", "single_choice")
    fields.setdefault("payload", SINGLE_CHOICE)
    return await add(session, Question(tenant_id=tenant_id, **fields))


@row_factory("quizzes")
async def make_quiz(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Quiz:
    if "lesson_id" not in fields:
        module = await make_module(session, tenant_id)
        lesson = await make_lesson(session, tenant_id, module=module, type=LessonType.QUIZ, duration_seconds=None)
        fields["lesson_id"] = lesson.id
        fields["course_id"] = lesson.course_id
    fields.setdefault("title", "Security check")
    return await add(session, Quiz(tenant_id=tenant_id, **fields))


@row_factory("quiz_attempts")
async def make_attempt(session: AsyncSession, tenant_id: UUID, **fields: Any) -> QuizAttempt:
    if "quiz_id" not in fields:
        fields["quiz_id"] = (await make_quiz(session, tenant_id)).id
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    fields.setdefault("number", 1)
    fields.setdefault("started_at", datetime.now(UTC))
    return await add(session, QuizAttempt(tenant_id=tenant_id, **fields))


@row_factory("assignments")
async def make_assignment(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Assignment:
    if "lesson_id" not in fields:
        module = await make_module(session, tenant_id)
        lesson = await make_lesson(session, tenant_id, module=module, type=LessonType.ASSIGNMENT, duration_seconds=None)
        fields["lesson_id"] = lesson.id
        fields["course_id"] = lesson.course_id
    fields.setdefault("title", "Write a phishing report")
    fields.setdefault(
        "rubric",
        [{"id": "clarity", "title": "Clarity", "levels": [{"id": "ok", "title": "OK", "points": 5}]}],
    )
    return await add(session, Assignment(tenant_id=tenant_id, **fields))


@row_factory("assignment_submissions")
async def make_submission(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Submission:
    if "assignment_id" not in fields:
        fields["assignment_id"] = (await make_assignment(session, tenant_id)).id
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    return await add(session, Submission(tenant_id=tenant_id, **fields))


@row_factory("submission_versions")
async def make_submission_version(session: AsyncSession, tenant_id: UUID, **fields: Any) -> SubmissionVersion:
    if "submission_id" not in fields:
        fields["submission_id"] = (await make_submission(session, tenant_id)).id
    fields.setdefault("number", 1)
    fields.setdefault("text", "My report")
    fields.setdefault("submitted_at", datetime.now(UTC))
    return await add(session, SubmissionVersion(tenant_id=tenant_id, **fields))


@row_factory("peer_reviews")
async def make_peer_review(session: AsyncSession, tenant_id: UUID, **fields: Any) -> PeerReview:
    if "submission_id" not in fields:
        submission = await make_submission(session, tenant_id)
        fields["submission_id"] = submission.id
        fields["assignment_id"] = submission.assignment_id
    if "reviewer_id" not in fields:
        fields["reviewer_id"] = (await make_user(session, tenant_id)).id
    fields.setdefault("due_at", datetime.now(UTC) + timedelta(days=3))
    return await add(session, PeerReview(tenant_id=tenant_id, **fields))


@row_factory("assessment_outbox")
async def make_assessment_outbox(session: AsyncSession, tenant_id: UUID, **fields: Any) -> AssessmentOutboxEntry:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    fields.setdefault("kind", "submission_graded")
    fields.setdefault("subject", "Your submission was graded")
    fields.setdefault("dedupe_key", f"graded:{uuid.uuid4()}")
    return await add(session, AssessmentOutboxEntry(tenant_id=tenant_id, **fields))
