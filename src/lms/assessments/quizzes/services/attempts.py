"""Quiz attempts: seeded draw and shuffle, server-side timing, answer saving, grading and review.

Everything that decides a score happens here, on the server: the attempt stores the exact items
shown (with their answer keys, which never leave the server before submission), the deadline is
checked against the database clock of this process, and a submitted attempt is immutable.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.guards import is_staff, require_enrolled
from lms.assessments.models import AttemptStatus, Question, Quiz, QuizAttempt, ReviewPolicy
from lms.assessments.quizzes.schemas import AttemptOut, AttemptQuestion, AttemptSummary, QuestionFeedback
from lms.assessments.quizzes.services.graders import (
    AnswerError,
    answer_key,
    grade,
    parse_question,
    public_view,
    response_label,
    shuffle_targets,
    validate_answer,
)
from lms.assessments.quizzes.services.shuffle import attempt_seed, fisher_yates, sub_seed
from lms.identity.guards import Principal
from lms.learning.services import record_assessment_result
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.lib.lookup import get_or_404

# Network latency allowance on the time limit; anything later is rejected.
SUBMIT_GRACE = timedelta(seconds=2)


class TimeLimitPassed(Conflict):
    code = "time_limit_passed"


class AlreadySubmitted(Conflict):
    code = "already_submitted"


class AttemptService:
    """A learner's attempts at a quiz (staff may read anyone's)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    # --- starting --------------------------------------------------------------------------
    async def start(self, quiz_id: UUID) -> tuple[QuizAttempt, Quiz, bool]:
        """A new attempt (True) or the one still open (False), after the attempt rules are checked."""
        quiz = await get_or_404(self.session, Quiz, quiz_id, "quiz not found", field="quiz_id")
        user_id = self.principal.user_id
        await require_enrolled(self.session, user_id, quiz.course_id)
        attempts = list(
            await self.session.scalars(
                select(QuizAttempt)
                .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user_id)
                .order_by(QuizAttempt.number)
                .with_for_update()
            )
        )
        for attempt in attempts:
            await self._expire_if_due(attempt, quiz)
        open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS.value), None)
        if open_attempt is not None:
            return open_attempt, quiz, False
        if quiz.max_attempts is not None and len(attempts) >= quiz.max_attempts:
            raise Conflict(f"all {quiz.max_attempts} attempts have been used", field="quiz_id")
        started = clock.now()
        if attempts and quiz.cooldown_seconds:
            last = attempts[-1].submitted_at or attempts[-1].started_at
            ready = last + timedelta(seconds=quiz.cooldown_seconds)
            if started < ready:
                wait = int((ready - started).total_seconds()) + 1
                raise Conflict(f"the next attempt opens in {wait} s (cooldown)", field="quiz_id")
        if quiz.due_at is not None and started >= quiz.due_at:
            raise Conflict(f"the quiz closed at {quiz.due_at.isoformat()}", field="quiz_id")
        # The attempt ends at its time limit or at the quiz's due date, whichever comes first.
        ends = [t for t in (quiz.due_at,) if t is not None]
        if quiz.time_limit_seconds:
            ends.append(started + timedelta(seconds=quiz.time_limit_seconds))
        number = len(attempts) + 1
        attempt = QuizAttempt(
            tenant_id=self.principal.tenant_id,
            quiz_id=quiz.id,
            user_id=user_id,
            number=number,
            status=AttemptStatus.IN_PROGRESS.value,
            started_at=started,
            deadline_at=min(ends) if ends else None,
            items=await self._draw(quiz, attempt_seed(user_id, quiz.id, number)),
            answers={},
            results=[],
        )
        attempt.max_score = round(sum(float(i["points"]) for i in attempt.items), 4)
        self.session.add(attempt)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("another attempt was started at the same time", field="quiz_id") from exc
        return attempt, quiz, True

    async def _draw(self, quiz: Quiz, seed: int) -> list[dict[str, Any]]:
        """N questions per pool, in a shuffled order, each with its options shuffled."""
        drawn: list[Question] = []
        taken: set[UUID] = set()
        for index, pool in enumerate(quiz.pools):
            query = select(Question).where(Question.bank_id == UUID(str(pool["bank_id"])), Question.active.is_(True))
            if pool.get("topic"):
                query = query.where(Question.topic == pool["topic"])
            if pool.get("difficulty"):
                query = query.where(Question.difficulty == pool["difficulty"])
            candidates = [q for q in await self.session.scalars(query.order_by(Question.id)) if q.id not in taken]
            chosen = fisher_yates(candidates, sub_seed(seed, f"pool:{index}"))[: int(pool["count"])]
            if len(chosen) < int(pool["count"]):
                raise Conflict(f"pool {index + 1} no longer has enough questions", field="quiz_id")
            drawn.extend(chosen)
            taken.update(q.id for q in chosen)
        items = []
        for question in fisher_yates(drawn, sub_seed(seed, "order")):
            targets = shuffle_targets(parse_question(question.payload))
            order = fisher_yates(targets, sub_seed(seed, f"options:{question.id}")) if quiz.shuffle_options else targets
            item = {"question_id": str(question.id), "points": question.points, "payload": question.payload}
            items.append({**item, "order": order})
        return items

    # --- reading ---------------------------------------------------------------------------
    async def get(self, attempt_id: UUID, *, own: bool) -> tuple[QuizAttempt, Quiz]:
        """The attempt; `own` demands it is the caller's (writes), otherwise staff may read it too."""
        attempt = await get_or_404(
            self.session, QuizAttempt, attempt_id, "attempt not found", field="attempt_id", for_update=own
        )
        quiz = await self.session.get(Quiz, attempt.quiz_id)
        assert quiz is not None
        if attempt.user_id != self.principal.user_id and (
            own or not await is_staff(self.session, self.principal, quiz.course_id)
        ):
            # Someone else's attempt is indistinguishable from a missing one.
            raise NotFound("attempt not found", field="attempt_id")
        if not own:
            # Writes reject a late answer instead (and a rejected request commits nothing).
            await self._expire_if_due(attempt, quiz)
        return attempt, quiz

    async def list_attempts(self, quiz_id: UUID, limit: int, offset: int) -> tuple[list[QuizAttempt], int]:
        quiz = await get_or_404(self.session, Quiz, quiz_id, "quiz not found", field="quiz_id")
        query = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id)
        if not await is_staff(self.session, self.principal, quiz.course_id):
            query = query.where(QuizAttempt.user_id == self.principal.user_id)
        rows = list(await self.session.scalars(query.order_by(QuizAttempt.created_at, QuizAttempt.number)))
        return rows[offset : offset + limit], len(rows)

    # --- answering -------------------------------------------------------------------------
    async def save_answers(self, attempt_id: UUID, answers: dict[str, Any]) -> tuple[QuizAttempt, Quiz]:
        attempt, quiz = await self.get(attempt_id, own=True)
        self._check_open(attempt)
        checked = self._validated(attempt, answers)
        attempt.answers = {**attempt.answers, **checked}
        await self.session.flush()
        return attempt, quiz

    async def submit(self, attempt_id: UUID, answers: dict[str, Any]) -> tuple[QuizAttempt, Quiz]:
        attempt, quiz = await self.get(attempt_id, own=True)
        self._check_open(attempt)
        checked = self._validated(attempt, answers)
        attempt.answers = {**attempt.answers, **checked}
        await self._finish(attempt, quiz, AttemptStatus.SUBMITTED, clock.now())
        return attempt, quiz

    def _check_open(self, attempt: QuizAttempt) -> None:
        if attempt.status != AttemptStatus.IN_PROGRESS.value:
            raise AlreadySubmitted("this attempt has already been submitted", field="attempt_id")
        if attempt.deadline_at is not None and clock.now() > attempt.deadline_at + SUBMIT_GRACE:
            raise TimeLimitPassed(
                f"the time limit passed at {attempt.deadline_at.isoformat()}; answers are no longer accepted",
                field="attempt_id",
            )

    def _validated(self, attempt: QuizAttempt, answers: dict[str, Any]) -> dict[str, Any]:
        """Every answer checked before any is stored, so a bad one leaves the attempt as it was."""
        by_id = {item["question_id"]: item for item in attempt.items}
        checked: dict[str, Any] = {}
        for question_id, answer in answers.items():
            item = by_id.get(question_id)
            if item is None:
                raise ValidationFailed(
                    f"question {question_id!r} is not part of this attempt", field=f"answers.{question_id}"
                )
            if answer is None:
                checked[question_id] = None
                continue
            try:
                checked[question_id] = validate_answer(parse_question(item["payload"]), answer)
            except AnswerError as exc:
                kind = item["payload"]["type"]
                raise ValidationFailed(f"{exc} ({kind} question)", field=f"answers.{question_id}") from exc
        return checked

    async def _expire_if_due(self, attempt: QuizAttempt, quiz: Quiz) -> None:
        """An open attempt past its limit is graded on the answers saved before the limit."""
        if (
            attempt.status == AttemptStatus.IN_PROGRESS.value
            and attempt.deadline_at is not None
            and clock.now() > attempt.deadline_at + SUBMIT_GRACE
        ):
            await self._finish(attempt, quiz, AttemptStatus.EXPIRED, attempt.deadline_at)

    async def _finish(self, attempt: QuizAttempt, quiz: Quiz, status: AttemptStatus, at: datetime) -> None:
        results = []
        total = 0.0
        for item in attempt.items:
            question = parse_question(item["payload"])
            answer = attempt.answers.get(item["question_id"])
            graded = grade(question, answer, float(item["points"]))
            total += graded.score
            results.append(
                {
                    "question_id": item["question_id"],
                    "score": graded.score,
                    "points": float(item["points"]),
                    "correct": graded.correct,
                    "response": None if graded.correct else response_label(question, answer),
                }
            )
        attempt.results = results
        attempt.score = round(total, 4)
        attempt.score_pct = round(100 * total / attempt.max_score, 2) if attempt.max_score else 0.0
        attempt.passed = attempt.score_pct >= quiz.pass_pct - 1e-9
        attempt.status = status.value
        attempt.submitted_at = at
        await self.session.flush()
        # The learning core completes the lesson on a pass (and keeps the best score).
        await record_assessment_result(
            self.session, attempt.user_id, quiz.lesson_id, bool(attempt.passed), attempt.score_pct
        )

    # --- presenting ------------------------------------------------------------------------
    async def out(self, attempt: QuizAttempt, quiz: Quiz) -> AttemptOut:
        finished = attempt.status != AttemptStatus.IN_PROGRESS.value
        questions = [
            AttemptQuestion(
                question_id=item["question_id"],
                position=index + 1,
                points=float(item["points"]),
                question=public_view(parse_question(item["payload"]), list(item["order"])),
            )
            for index, item in enumerate(attempt.items)
        ]
        left = None
        if attempt.deadline_at is not None and not finished:
            left = max(0.0, round((attempt.deadline_at - clock.now()).total_seconds(), 1))
        out = AttemptOut(
            id=attempt.id,
            quiz_id=attempt.quiz_id,
            user_id=attempt.user_id,
            number=attempt.number,
            status=attempt.status,
            started_at=attempt.started_at,
            deadline_at=attempt.deadline_at,
            submitted_at=attempt.submitted_at,
            seconds_left=left,
            questions=questions,
            answers=attempt.answers,
            max_score=attempt.max_score,
        )
        if not finished:
            return out
        out.score, out.score_pct, out.passed = attempt.score, attempt.score_pct, attempt.passed
        allowed, reason = await self._review_allowed(attempt, quiz)
        out.feedback_available = reason
        if allowed:
            keys = {i["question_id"]: answer_key(parse_question(i["payload"])) for i in attempt.items}
            out.feedback = [
                QuestionFeedback(
                    question_id=r["question_id"],
                    score=r["score"],
                    points=r["points"],
                    correct=r["correct"],
                    correct_answer=keys[r["question_id"]],
                    your_answer=attempt.answers.get(r["question_id"]),
                )
                for r in attempt.results
            ]
        return out

    async def _review_allowed(self, attempt: QuizAttempt, quiz: Quiz) -> tuple[bool, str]:
        if await is_staff(self.session, self.principal, quiz.course_id):
            return True, "now"
        policy = ReviewPolicy(quiz.review_policy)
        if policy is ReviewPolicy.AFTER_SUBMISSION:
            return True, "now"
        if policy is ReviewPolicy.AFTER_PASSING:
            passed = await self.session.scalar(
                select(QuizAttempt.id).where(
                    QuizAttempt.quiz_id == quiz.id,
                    QuizAttempt.user_id == attempt.user_id,
                    QuizAttempt.passed.is_(True),
                )
            )
            return (True, "now") if passed is not None else (False, "after you pass the quiz")
        if policy is ReviewPolicy.AFTER_DUE_DATE:
            if quiz.due_at is not None and clock.now() >= quiz.due_at:
                return True, "now"
            return False, f"after the due date ({quiz.due_at.isoformat()})" if quiz.due_at else "after the due date"
        return False, "never"


def attempt_summary(attempt: QuizAttempt) -> AttemptSummary:
    return AttemptSummary(
        id=attempt.id,
        user_id=attempt.user_id,
        number=attempt.number,
        status=attempt.status,
        started_at=attempt.started_at,
        submitted_at=attempt.submitted_at,
        score=attempt.score,
        score_pct=attempt.score_pct,
        passed=attempt.passed,
    )
