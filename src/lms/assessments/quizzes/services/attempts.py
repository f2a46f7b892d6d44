"""Quiz attempts: seeded draw and shuffle, server-side timing, answer saving, grading and review.

Everything that decides a score happens here, on the server: the attempt stores the exact items
shown (with their answer keys, which never leave the server before submission), the deadline is
checked against the database clock of this process, and a submitted attempt is immutable.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Select, bindparam, case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from lms.assessments.guards import is_staff, not_enrolled
from lms.assessments.models import AttemptStatus, Question, Quiz, QuizAttempt, ReviewPolicy
from lms.assessments.quizzes.schemas import AttemptOut, AttemptSummary, QuestionFeedback
from lms.assessments.quizzes.services.graders import (
    AnswerError,
    grade,
    parse_question,
    response_label,
    shuffle_targets,
    validate_answer,
)
from lms.assessments.quizzes.services.graders import Question as ParsedQuestion
from lms.assessments.quizzes.services.shuffle import attempt_seed, fisher_yates, sub_seed
from lms.assessments.quizzes.services.snapshots import Snapshot, recall, remember, snapshot
from lms.identity.guards import Principal
from lms.learning.queries import enrolled_in
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


# The statements of the hot routes, built once (building one costs more CPU than running it).
_QUIZ_AND_ENROLMENT = select(Quiz, enrolled_in(bindparam("user_id"), Quiz.course_id)).where(
    Quiz.id == bindparam("quiz_id")
)
# A learner's attempts, locked; items only of one still open (resumed, or graded if its time is up).
_LEARNERS_ATTEMPTS = (
    select(QuizAttempt, case((QuizAttempt.status == AttemptStatus.IN_PROGRESS.value, QuizAttempt.items)))
    .options(defer(QuizAttempt.items, raiseload=True))
    .where(QuizAttempt.quiz_id == bindparam("quiz_id"), QuizAttempt.user_id == bindparam("user_id"))
    .order_by(QuizAttempt.number)
    .with_for_update(of=QuizAttempt)
    .execution_options(populate_existing=True)
)


@functools.cache
def _candidates(topic: bool, difficulty: bool) -> Select[tuple[UUID, float, dict[str, Any]]]:
    """Active questions of a bank (of a topic, of a difficulty): only what an attempt keeps of them."""
    query = select(Question.id, Question.points, Question.payload).where(
        Question.bank_id == bindparam("bank_id"), Question.active.is_(True)
    )
    if topic:
        query = query.where(Question.topic == bindparam("topic"))
    if difficulty:
        query = query.where(Question.difficulty == bindparam("difficulty"))
    return query.order_by(Question.id)


@functools.cache
def _attempt_query(*, lock: bool, with_quiz: bool, with_items: bool) -> Select[Any]:
    """One attempt (locked for a write, refreshed if this session has it), with its quiz, with its items."""
    query: Select[Any] = select(QuizAttempt).where(QuizAttempt.id == bindparam("attempt_id"))
    if with_quiz:
        query = query.add_columns(Quiz).join(Quiz, Quiz.id == QuizAttempt.quiz_id)
    if not with_items:
        query = query.options(defer(QuizAttempt.items, raiseload=True))
    if lock:
        query = query.with_for_update(of=QuizAttempt).execution_options(populate_existing=True)
    return query


class AttemptService:
    """A learner's attempts at a quiz (staff may read anyone's)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        # The snapshots of the attempts this request handles (the process-wide ones may be evicted).
        self._snapshots: dict[UUID, Snapshot] = {}

    # --- starting --------------------------------------------------------------------------
    async def start(self, quiz_id: UUID) -> tuple[QuizAttempt, Quiz, bool]:
        """A new attempt (True) or the one still open (False), after the attempt rules are checked."""
        user_id = self.principal.user_id
        # The quiz and whether the caller is enrolled in its course, in one statement.
        found = (await self.session.execute(_QUIZ_AND_ENROLMENT, {"quiz_id": quiz_id, "user_id": user_id})).first()
        if found is None:
            raise NotFound("quiz not found", field="quiz_id")
        quiz, enrolled = found
        if not enrolled:
            raise not_enrolled()
        rows = (await self.session.execute(_LEARNERS_ATTEMPTS, {"quiz_id": quiz.id, "user_id": user_id})).all()
        attempts = [attempt for attempt, _ in rows]
        for attempt, items in rows:
            if items is not None:
                self._snapshot_of(attempt, items)
        for attempt in attempts:
            await self._expire_if_due(attempt, quiz)
        open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS.value), None)
        if open_attempt is not None:
            return open_attempt, quiz, False
        if quiz.max_attempts is not None and len(attempts) >= quiz.max_attempts:
            raise Conflict(
                "all %(count)s attempts have been used", field="quiz_id", values={"count": quiz.max_attempts}
            )
        started = clock.now()
        if attempts and quiz.cooldown_seconds:
            last = attempts[-1].submitted_at or attempts[-1].started_at
            ready = last + timedelta(seconds=quiz.cooldown_seconds)
            if started < ready:
                wait = int((ready - started).total_seconds()) + 1
                raise Conflict(
                    "the next attempt opens in %(seconds)s s (cooldown)", field="quiz_id", values={"seconds": wait}
                )
        if quiz.due_at is not None and started >= quiz.due_at:
            raise Conflict("the quiz closed at %(moment)s", field="quiz_id", values={"moment": quiz.due_at})
        # The attempt ends at its time limit or at the quiz's due date, whichever comes first.
        ends = [t for t in (quiz.due_at,) if t is not None]
        if quiz.time_limit_seconds:
            ends.append(started + timedelta(seconds=quiz.time_limit_seconds))
        number = len(attempts) + 1
        items, shown = await self._draw(quiz, attempt_seed(user_id, quiz.id, number))
        attempt = QuizAttempt(
            tenant_id=self.principal.tenant_id,
            quiz_id=quiz.id,
            user_id=user_id,
            number=number,
            status=AttemptStatus.IN_PROGRESS.value,
            started_at=started,
            deadline_at=min(ends) if ends else None,
            items=items,
            answers={},
            results=[],
            max_score=shown.max_score,
        )
        self.session.add(attempt)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("another attempt was started at the same time", field="quiz_id") from exc
        self._snapshots[attempt.id] = shown
        remember(attempt.tenant_id, attempt.id, shown)
        return attempt, quiz, True

    async def _draw(self, quiz: Quiz, seed: int) -> tuple[list[dict[str, Any]], Snapshot]:
        """N questions per pool, in a shuffled order, each with its options shuffled; each question parsed once."""
        drawn: list[Row[tuple[UUID, float, dict[str, Any]]]] = []
        taken: set[UUID] = set()
        for index, pool in enumerate(quiz.pools):
            # Only what the attempt keeps of a question (no ORM objects for the candidates not drawn).
            query = _candidates(bool(pool.get("topic")), bool(pool.get("difficulty")))
            values = {
                "bank_id": UUID(str(pool["bank_id"])),
                "topic": pool.get("topic"),
                "difficulty": pool.get("difficulty"),
            }
            candidates = [q for q in await self.session.execute(query, values) if q.id not in taken]
            chosen = fisher_yates(candidates, sub_seed(seed, f"pool:{index}"))[: int(pool["count"])]
            if len(chosen) < int(pool["count"]):
                raise Conflict(f"pool {index + 1} no longer has enough questions", field="quiz_id")
            drawn.extend(chosen)
            taken.update(q.id for q in chosen)
        items: list[tuple[dict[str, Any], ParsedQuestion | None]] = []
        for question in fisher_yates(drawn, sub_seed(seed, "order")):
            parsed = parse_question(question.payload)
            targets = shuffle_targets(parsed)
            order = fisher_yates(targets, sub_seed(seed, f"options:{question.id}")) if quiz.shuffle_options else targets
            item = {"question_id": str(question.id), "points": question.points, "payload": question.payload}
            items.append(({**item, "order": order}, parsed))
        return [item for item, _ in items], snapshot(items)

    # --- reading ---------------------------------------------------------------------------
    async def get(self, attempt_id: UUID, *, own: bool) -> tuple[QuizAttempt, Quiz]:
        """The attempt; `own` demands it is the caller's (writes), otherwise staff may read it too."""
        attempt, quiz = await self._load(attempt_id, lock=own, with_quiz=True)
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

    async def _load(self, attempt_id: UUID, *, lock: bool, with_quiz: bool) -> tuple[QuizAttempt, Quiz | None]:
        """The attempt (locked for a write), with its quiz when asked, in one statement; its items are read
        only when this process has no snapshot of them."""
        tenant_id = self.principal.tenant_id
        kept = recall(tenant_id, attempt_id)
        query = _attempt_query(lock=lock, with_quiz=with_quiz, with_items=kept is None)
        found = (await self.session.execute(query, {"attempt_id": attempt_id})).first()
        if found is None:
            raise NotFound("attempt not found", field="attempt_id")
        attempt: QuizAttempt = found[0]
        quiz: Quiz | None = found[1] if with_quiz else None
        if kept is None:
            self._snapshot_of(attempt, attempt.items)
        elif attempt.tenant_id == tenant_id:
            self._snapshots[attempt.id] = kept
        else:  # never (the row is the caller's tenant's): no snapshot is shared across tenants
            raise NotFound("attempt not found", field="attempt_id")
        return attempt, quiz

    def _snapshot_of(self, attempt: QuizAttempt, items: list[dict[str, Any]]) -> Snapshot:
        shown = self._snapshots[attempt.id] = snapshot([(item, None) for item in items])
        remember(attempt.tenant_id, attempt.id, shown)
        return shown

    async def list_attempts(self, quiz_id: UUID, limit: int, offset: int) -> tuple[list[QuizAttempt], int]:
        quiz = await get_or_404(self.session, Quiz, quiz_id, "quiz not found", field="quiz_id")
        query = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id)
        if not await is_staff(self.session, self.principal, quiz.course_id):
            query = query.where(QuizAttempt.user_id == self.principal.user_id)
        rows = list(await self.session.scalars(query.order_by(QuizAttempt.created_at, QuizAttempt.number)))
        return rows[offset : offset + limit], len(rows)

    # --- answering -------------------------------------------------------------------------
    async def save_answers(self, attempt_id: UUID, answers: dict[str, Any]) -> QuizAttempt:
        """The attempt with these answers saved (its quiz is not read: an open attempt needs none of it)."""
        attempt, _ = await self._load(attempt_id, lock=True, with_quiz=False)
        if attempt.user_id != self.principal.user_id:
            raise NotFound("attempt not found", field="attempt_id")
        self._check_open(attempt)
        checked = self._validated(attempt, answers)
        attempt.answers = {**attempt.answers, **checked}
        await self.session.flush()
        return attempt

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
        by_id = self._snapshots[attempt.id].by_id
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
                checked[question_id] = validate_answer(item.question, answer)
            except AnswerError as exc:
                raise ValidationFailed(f"{exc} ({item.kind} question)", field=f"answers.{question_id}") from exc
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
        for item in self._snapshots[attempt.id].items:
            answer = attempt.answers.get(item.question_id)
            graded = grade(item.question, answer, item.points)
            total += graded.score
            results.append(
                {
                    "question_id": item.question_id,
                    "score": graded.score,
                    "points": item.points,
                    "correct": graded.correct,
                    "response": None if graded.correct else response_label(item.question, answer),
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
    async def out(self, attempt: QuizAttempt, quiz: Quiz | None = None) -> AttemptOut:
        """The attempt as its reader may see it; `quiz` is read here if a finished attempt needs it."""
        finished = attempt.status != AttemptStatus.IN_PROGRESS.value
        shown = self._snapshots[attempt.id]
        questions = [item.view for item in shown.items]
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
        if quiz is None:
            quiz = await get_or_404(self.session, Quiz, attempt.quiz_id, "quiz not found", field="quiz_id")
        allowed, reason = await self._review_allowed(attempt, quiz)
        out.feedback_available = reason
        if allowed:
            keys = shown.answer_keys()
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
