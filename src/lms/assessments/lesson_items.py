"""The quiz or assignment behind a lesson, and a learner's attempts at it, for the lesson pages."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import Assignment, Quiz, QuizAttempt
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
