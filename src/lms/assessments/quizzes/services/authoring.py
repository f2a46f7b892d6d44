"""Question banks, questions and quizzes (authoring, for course staff), and item analysis."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.guards import is_staff, require_enrolled, staff_course, staff_lesson
from lms.assessments.models import AttemptStatus, Question, QuestionBank, Quiz, QuizAttempt
from lms.assessments.quizzes.schemas import (
    BankIn,
    BankOut,
    ItemAnalysisOut,
    ItemStats,
    PoolIn,
    QuestionIn,
    QuestionOut,
    QuizIn,
    QuizOut,
    QuizSettingsIn,
)
from lms.assessments.quizzes.services.graders import QuestionError, parse_question
from lms.catalog.schemas import LessonType
from lms.identity.guards import Principal
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.lib.lookup import get_or_404
from lms.lib.pagination import count_and_fetch

# Share of attempts in the upper and lower groups of the discrimination index (Kelley's 27%).
DISCRIMINATION_GROUP = 0.27


def question_out(q: Question) -> QuestionOut:
    return QuestionOut(q.id, q.bank_id, q.type, q.topic, q.difficulty, q.points, q.payload, q.active)


def quiz_out(quiz: Quiz, staff: bool) -> QuizOut:
    return QuizOut(
        id=quiz.id,
        lesson_id=quiz.lesson_id,
        course_id=quiz.course_id,
        title=quiz.title,
        question_count=sum(int(p["count"]) for p in quiz.pools),
        time_limit_seconds=quiz.time_limit_seconds,
        max_attempts=quiz.max_attempts,
        cooldown_seconds=quiz.cooldown_seconds,
        pass_pct=quiz.pass_pct,
        review_policy=quiz.review_policy,
        due_at=quiz.due_at,
        pools=quiz.pools if staff else None,
    )


def checked_payload(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Validate a question payload; errors name the offending field under `payload`."""
    try:
        question = parse_question(payload)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = message.rsplit("at `$", 1)[1].rstrip("`") if "at `$" in message else ""
        raise ValidationFailed(message, field="payload" + path) from exc
    except QuestionError as exc:
        raise ValidationFailed(str(exc), field="payload") from exc
    return question.__struct_config__.tag, msgspec.to_builtins(question)  # type: ignore[return-value]


def _apply_settings(quiz: Quiz, data: QuizSettingsIn) -> None:
    quiz.title = data.title
    quiz.time_limit_seconds = data.time_limit_seconds
    quiz.max_attempts = data.max_attempts
    quiz.cooldown_seconds = data.cooldown_seconds
    quiz.pass_pct = data.pass_pct
    quiz.review_policy = data.review_policy.value
    quiz.due_at = data.due_at
    quiz.shuffle_options = data.shuffle_options


class QuizAuthoring:
    """Banks, questions and quizzes of the courses the caller teaches."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    async def create_bank(self, data: BankIn) -> QuestionBank:
        course_id = await staff_course(self.session, self.principal, data.course_id)
        bank = QuestionBank(tenant_id=self.principal.tenant_id, course_id=course_id, title=data.title)
        self.session.add(bank)
        await self.session.flush()
        return bank

    async def bank(self, bank_id: UUID) -> QuestionBank:
        bank = await get_or_404(self.session, QuestionBank, bank_id, "question bank not found", field="bank_id")
        await staff_course(self.session, self.principal, bank.course_id)
        return bank

    async def bank_out(self, bank: QuestionBank) -> BankOut:
        count = await self.session.scalar(select(func.count()).where(Question.bank_id == bank.id))
        return BankOut(bank.id, bank.course_id, bank.title, int(count or 0))

    async def list_banks(self, course_id: UUID) -> list[QuestionBank]:
        await staff_course(self.session, self.principal, course_id)
        rows = await self.session.scalars(
            select(QuestionBank).where(QuestionBank.course_id == course_id).order_by(QuestionBank.created_at)
        )
        return list(rows)

    async def add_question(self, bank_id: UUID, data: QuestionIn) -> Question:
        bank = await self.bank(bank_id)
        kind, payload = checked_payload(data.payload)
        question = Question(
            tenant_id=self.principal.tenant_id,
            bank_id=bank.id,
            type=kind,
            topic=data.topic,
            difficulty=data.difficulty,
            points=data.points,
            payload=payload,
        )
        self.session.add(question)
        await self.session.flush()
        return question

    async def question(self, bank_id: UUID, question_id: UUID) -> Question:
        """A question of a bank the caller teaches; 404 for another bank's question."""
        bank = await self.bank(bank_id)
        question = await self.session.get(Question, question_id)
        if question is None or question.bank_id != bank.id:
            raise NotFound("question not found", field="question_id")
        return question

    async def update_question(self, bank_id: UUID, question_id: UUID, data: QuestionIn) -> Question:
        """Replace a question's content. Attempts already started keep the copy they were given."""
        question = await self.question(bank_id, question_id)
        kind, payload = checked_payload(data.payload)
        question.type, question.payload = kind, payload
        question.topic, question.difficulty, question.points = data.topic, data.difficulty, data.points
        await self.session.flush()
        return question

    async def set_question_active(self, bank_id: UUID, question_id: UUID, active: bool) -> Question:
        """Retire a question (quizzes stop drawing it; past attempts keep it) or bring it back."""
        question = await self.question(bank_id, question_id)
        question.active = active
        await self.session.flush()
        return question

    async def list_questions(self, bank_id: UUID, limit: int, offset: int) -> tuple[list[Question], int]:
        await self.bank(bank_id)
        query = select(Question).where(Question.bank_id == bank_id)
        return await count_and_fetch(self.session, query.order_by(Question.created_at, Question.id), limit, offset)

    async def create_quiz(self, data: QuizIn) -> Quiz:
        lesson = await staff_lesson(self.session, self.principal, data.lesson_id, LessonType.QUIZ)
        pools = await self._checked_pools(lesson.course_id, data.pools)
        if await self.session.scalar(select(Quiz.id).where(Quiz.lesson_id == lesson.id)) is not None:
            raise Conflict("this lesson already has a quiz", field="lesson_id")
        quiz = Quiz(tenant_id=self.principal.tenant_id, lesson_id=lesson.id, course_id=lesson.course_id, pools=pools)
        _apply_settings(quiz, data)
        self.session.add(quiz)
        await self.session.flush()
        return quiz

    async def update_quiz(self, quiz_id: UUID, data: QuizSettingsIn) -> Quiz:
        """New rules for a quiz; attempts under way keep their questions and deadline."""
        quiz = await get_or_404(self.session, Quiz, quiz_id, "quiz not found", field="quiz_id")
        await staff_lesson(self.session, self.principal, quiz.lesson_id, LessonType.QUIZ)
        quiz.pools = await self._checked_pools(quiz.course_id, data.pools)
        _apply_settings(quiz, data)
        await self.session.flush()
        return quiz

    async def _checked_pools(self, course_id: UUID, requested: list[PoolIn]) -> list[dict[str, Any]]:
        """The pools as stored, each drawing from a bank of the course with enough active questions."""
        pools: list[dict[str, Any]] = []
        for index, pool in enumerate(requested):
            bank = await self.session.get(QuestionBank, pool.bank_id)
            if bank is None or bank.course_id != course_id:
                raise ValidationFailed("no such question bank in this course", field=f"pools[{index}].bank_id")
            query = select(func.count()).where(Question.bank_id == bank.id, Question.active.is_(True))
            if pool.topic is not None:
                query = query.where(Question.topic == pool.topic)
            if pool.difficulty is not None:
                query = query.where(Question.difficulty == pool.difficulty)
            available = int(await self.session.scalar(query) or 0)
            if available < pool.count:
                raise ValidationFailed(
                    "the pool draws %(count)s questions but only %(available)s match",
                    field=f"pools[{index}].count",
                    values={"count": pool.count, "available": available},
                )
            pools.append(msgspec.to_builtins(pool))
        return pools

    async def visible_quiz(self, quiz_id: UUID) -> tuple[Quiz, bool]:
        """The quiz and whether the caller is staff; learners must be enrolled to see it."""
        quiz = await get_or_404(self.session, Quiz, quiz_id, "quiz not found", field="quiz_id")
        staff = await is_staff(self.session, self.principal, quiz.course_id)
        if not staff:
            await require_enrolled(self.session, self.principal.user_id, quiz.course_id)
        return quiz, staff

    async def item_analysis(self, quiz_id: UUID) -> ItemAnalysisOut:
        """Per question: correct rate, average score, discrimination index, most chosen wrong answer."""
        quiz = await get_or_404(self.session, Quiz, quiz_id, "quiz not found", field="quiz_id")
        await staff_course(self.session, self.principal, quiz.course_id)
        attempts = list(
            await self.session.scalars(
                select(QuizAttempt).where(
                    QuizAttempt.quiz_id == quiz.id,
                    QuizAttempt.status.in_([AttemptStatus.SUBMITTED.value, AttemptStatus.EXPIRED.value]),
                )
            )
        )
        return analyse(quiz.id, attempts)


def analyse(quiz_id: UUID, attempts: list[QuizAttempt]) -> ItemAnalysisOut:
    ranked = sorted(attempts, key=lambda a: (a.score_pct or 0.0, str(a.id)))
    group = max(1, round(len(ranked) * DISCRIMINATION_GROUP)) if len(ranked) >= 2 else 0
    lower = {a.id for a in ranked[:group]}
    upper = {a.id for a in ranked[len(ranked) - group :]} if group else set()
    shown: dict[str, list[tuple[QuizAttempt, dict[str, Any]]]] = defaultdict(list)
    meta: dict[str, tuple[str, str]] = {}
    for attempt in attempts:
        for item in attempt.items:
            meta.setdefault(item["question_id"], (item["payload"]["type"], item["payload"]["prompt"]))
        for result in attempt.results:
            shown[result["question_id"]].append((attempt, result))
    items: list[ItemStats] = []
    for question_id, rows in shown.items():
        correct = [r for _, r in rows if r["correct"]]
        wrong = Counter(r["response"] for _, r in rows if not r["correct"] and r.get("response") is not None)
        top = wrong.most_common(1)
        items.append(
            ItemStats(
                question_id=question_id,
                type=meta[question_id][0],
                prompt=meta[question_id][1],
                attempts=len(rows),
                correct_rate=round(len(correct) / len(rows), 4),
                average_score=round(sum(r["score"] / r["points"] for _, r in rows) / len(rows), 4),
                discrimination=_discrimination(rows, upper, lower),
                most_chosen_wrong=top[0][0] if top else None,
                most_chosen_wrong_count=top[0][1] if top else 0,
            )
        )
    items.sort(key=lambda s: s.question_id)
    finished = [a for a in attempts if a.score_pct is not None]
    return ItemAnalysisOut(
        quiz_id=quiz_id,
        attempts=len(attempts),
        average_score_pct=round(sum(a.score_pct or 0 for a in finished) / len(finished), 2) if finished else None,
        pass_rate=round(sum(1 for a in finished if a.passed) / len(finished), 4) if finished else None,
        items=items,
    )


def _discrimination(rows: list[tuple[QuizAttempt, dict[str, Any]]], upper: set[UUID], lower: set[UUID]) -> float | None:
    """Correct rate among the top-scoring attempts minus that among the bottom-scoring ones."""
    up = [bool(r["correct"]) for a, r in rows if a.id in upper]
    low = [bool(r["correct"]) for a, r in rows if a.id in lower]
    if not up or not low:
        return None
    return round(sum(up) / len(up) - sum(low) / len(low), 4)
