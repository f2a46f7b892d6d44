"""The quiz or assignment behind a lesson, and a learner's attempts at it, for the lesson pages."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import Assignment, PeerReview, Quiz, QuizAttempt, ReviewStatus, Submission
from lms.lib.errors import NotFound


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
