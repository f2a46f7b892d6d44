"""Quiz, question-bank and attempt shapes on the wire (assignment shapes live in `assignment_schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from lms.assessments.models import ReviewPolicy

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Difficulty = Literal["easy", "medium", "hard"]


class BankIn(msgspec.Struct, forbid_unknown_fields=True):
    course_id: UUID
    title: Title


class BankOut(msgspec.Struct):
    id: UUID
    course_id: UUID
    title: str
    question_count: int


class QuestionIn(msgspec.Struct, forbid_unknown_fields=True):
    """`payload` is the typed question, `{"type": "single_choice", ...}` (see the README for each type)."""

    payload: dict[str, Any]
    topic: Tag = "general"
    difficulty: Difficulty = "medium"
    points: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 1.0


class QuestionState(msgspec.Struct, forbid_unknown_fields=True):
    """`active: false` retires a question: quizzes stop drawing it, past attempts keep their copy."""

    active: bool


class QuestionOut(msgspec.Struct):
    """For course staff only: includes the answer key."""

    id: UUID
    bank_id: UUID
    type: str
    topic: str
    difficulty: str
    points: float
    payload: dict[str, Any]
    active: bool


class PoolIn(msgspec.Struct, forbid_unknown_fields=True):
    bank_id: UUID
    count: Annotated[int, msgspec.Meta(ge=1, le=200)]
    topic: Tag | None = None
    difficulty: Difficulty | None = None


class QuizSettingsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A quiz's rules. Changed later (PUT), they apply to attempts started afterwards: an attempt under
    way keeps the questions it drew and its deadline."""

    title: Title
    pools: Annotated[list[PoolIn], msgspec.Meta(min_length=1, max_length=20)]
    time_limit_seconds: Annotated[int, msgspec.Meta(ge=10, le=24 * 3600)] | None = None
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    cooldown_seconds: Annotated[int, msgspec.Meta(ge=0, le=30 * 24 * 3600)] = 0
    pass_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 70.0
    review_policy: ReviewPolicy = ReviewPolicy.AFTER_SUBMISSION
    due_at: datetime | None = None
    shuffle_options: bool = True


class QuizIn(QuizSettingsIn, kw_only=True):
    lesson_id: UUID


class QuizOut(msgspec.Struct):
    id: UUID
    lesson_id: UUID
    course_id: UUID
    title: str
    question_count: int
    time_limit_seconds: int | None
    max_attempts: int | None
    cooldown_seconds: int
    pass_pct: float
    review_policy: str
    due_at: datetime | None
    # Pools are shown to course staff only (they name banks and topics).
    pools: list[dict[str, Any]] | None = None


class AttemptQuestion(msgspec.Struct):
    question_id: str
    position: int
    points: float
    question: dict[str, Any]


class QuestionFeedback(msgspec.Struct):
    question_id: str
    score: float
    points: float
    correct: bool
    correct_answer: Any
    your_answer: Any


class AttemptOut(msgspec.Struct):
    id: UUID
    quiz_id: UUID
    user_id: UUID
    number: int
    status: str
    started_at: datetime
    deadline_at: datetime | None
    submitted_at: datetime | None
    seconds_left: float | None
    questions: list[AttemptQuestion]
    answers: dict[str, Any]
    max_score: float
    score: float | None = None
    score_pct: float | None = None
    passed: bool | None = None
    # Present only when the quiz's review policy allows it now.
    feedback: list[QuestionFeedback] | None = None
    feedback_available: str | None = None


class AttemptSummary(msgspec.Struct):
    id: UUID
    user_id: UUID
    number: int
    status: str
    started_at: datetime
    submitted_at: datetime | None
    score: float | None
    score_pct: float | None
    passed: bool | None


class AnswersIn(msgspec.Struct, forbid_unknown_fields=True):
    """Answers keyed by question id; the shape depends on the question type."""

    answers: Annotated[dict[str, Any], msgspec.Meta(max_length=500)]


class SubmitIn(msgspec.Struct, forbid_unknown_fields=True):
    answers: Annotated[dict[str, Any], msgspec.Meta(max_length=500)] = {}


class ItemStats(msgspec.Struct):
    question_id: str
    type: str
    prompt: str
    attempts: int
    correct_rate: float
    average_score: float
    discrimination: float | None
    most_chosen_wrong: str | None
    most_chosen_wrong_count: int


class ItemAnalysisOut(msgspec.Struct):
    quiz_id: UUID
    attempts: int
    average_score_pct: float | None
    pass_rate: float | None
    items: list[ItemStats]
