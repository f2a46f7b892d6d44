"""The quiz or assignment behind a lesson, and a learner's attempts at it, for the lesson pages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import (
    Assignment,
    PeerReview,
    Quiz,
    QuizAttempt,
    ReviewStatus,
    Submission,
    SubmissionVersion,
)
from lms.lib.errors import NotFound
from lms.lib.records import row_record


async def quiz_of_lesson(session: AsyncSession, lesson_id: UUID) -> Quiz:
    quiz = await session.scalar(select(Quiz).where(Quiz.lesson_id == lesson_id))
    if quiz is None:
        raise NotFound("this lesson has no quiz yet", field="lesson_id")
    return quiz


async def assignment_of_lesson(session: AsyncSession, lesson_id: UUID) -> Assignment:
    assignment = await session.scalar(select(Assignment).where(Assignment.lesson_id == lesson_id))
    if assignment is None:
        raise NotFound("this lesson has no assignment yet", field="lesson_id")
    return assignment


async def my_attempts(session: AsyncSession, user_id: UUID, quiz_id: UUID) -> list[QuizAttempt]:
    query = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.user_id == user_id)
    return list(await session.scalars(query.order_by(QuizAttempt.number)))


async def my_submission(session: AsyncSession, user_id: UUID, assignment_id: UUID) -> Submission | None:
    query = select(Submission).where(Submission.assignment_id == assignment_id, Submission.user_id == user_id)
    return await session.scalar(query)


async def my_reviews_of(session: AsyncSession, user_id: UUID, assignment_id: UUID) -> list[PeerReview]:
    """The peer reviews of this assignment given to the learner (missed ones were handed on)."""
    query = select(PeerReview).where(
        PeerReview.assignment_id == assignment_id,
        PeerReview.reviewer_id == user_id,
        PeerReview.status != ReviewStatus.MISSED.value,
    )
    return list(await session.scalars(query.order_by(PeerReview.due_at, PeerReview.id)))


async def attempt_records_of_user(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """A person's quiz attempts as plain records for their personal data export: answers, results and
    scores. The questions as shown are left out: their snapshot carries the answer key."""
    query = select(QuizAttempt).where(QuizAttempt.user_id == user_id).order_by(QuizAttempt.started_at)
    return [row_record(row, leave_out=("items",)) for row in await session.scalars(query)]


async def submission_records_of_user(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """A person's assignment submissions with every version they handed in (text, link, file names)."""
    submissions = list(
        await session.scalars(select(Submission).where(Submission.user_id == user_id).order_by(Submission.created_at))
    )
    if not submissions:
        return []
    versions = await session.scalars(
        select(SubmissionVersion)
        .where(SubmissionVersion.submission_id.in_([s.id for s in submissions]))
        .order_by(SubmissionVersion.number)
    )
    by_submission: dict[UUID, list[dict[str, Any]]] = {}
    for version in versions:
        by_submission.setdefault(version.submission_id, []).append(row_record(version))
    return [{**row_record(s), "versions": by_submission.get(s.id, [])} for s in submissions]
