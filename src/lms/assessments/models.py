"""Assessment tables: question banks, questions, quizzes, attempts, assignments, submissions, reviews.

Question payloads and the items shown in an attempt are typed JSON (see `graders`), so a new
question type needs no schema change. Every table is tenant-owned with tenant-inclusive keys.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class ReviewPolicy(enum.StrEnum):
    NEVER = "never"
    AFTER_SUBMISSION = "after_submission"
    AFTER_PASSING = "after_passing"
    AFTER_DUE_DATE = "after_due_date"


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    # The time limit passed before submission: graded on the answers saved by then.
    EXPIRED = "expired"


class SubmissionStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    GRADED = "graded"
    RETURNED = "returned"


class ReviewStatus(enum.StrEnum):
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    MISSED = "missed"


def _fk(local: str, table: str, ondelete: str = "CASCADE") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", local], [f"{table}.tenant_id", f"{table}.id"], ondelete=ondelete)


class QuestionBank(TenantScoped, Base):
    """A course's pool of questions, tagged by topic and difficulty."""

    __tablename__ = "question_banks"
    __tenant_table_args__ = (_fk("course_id", "courses"),)

    course_id: Mapped[UUID] = mapped_column(GUID())
    title: Mapped[str] = mapped_column(String(200))


class Question(TenantScoped, Base):
    __tablename__ = "questions"
    __tenant_table_args__ = (
        _fk("bank_id", "question_banks"),
        Index("ix_questions_bank_topic", "tenant_id", "bank_id", "topic", "difficulty"),
        CheckConstraint("points > 0", name="ck_questions_points"),
    )

    bank_id: Mapped[UUID] = mapped_column(GUID())
    type: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(80), default="general")
    difficulty: Mapped[str] = mapped_column(String(16), default="medium")
    points: Mapped[float] = mapped_column(Float, default=1.0)
    # The typed payload, answer key included; never sent to learners as is.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Quiz(TenantScoped, Base):
    """The quiz of a quiz lesson: pools to draw from and the rules of its attempts."""

    __tablename__ = "quizzes"
    __tenant_table_args__ = (
        Index("ux_quizzes_lesson", "tenant_id", "lesson_id", unique=True),
        _fk("lesson_id", "lessons"),
        _fk("course_id", "courses"),
        CheckConstraint("pass_pct >= 0 AND pass_pct <= 100", name="ck_quizzes_pass_pct"),
    )

    lesson_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    title: Mapped[str] = mapped_column(String(200))
    # [{"bank_id", "count", "topic"?, "difficulty"?}]
    pools: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    max_attempts: Mapped[int | None] = mapped_column(Integer, default=None)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=0)
    pass_pct: Mapped[float] = mapped_column(Float, default=70.0)
    review_policy: Mapped[str] = mapped_column(String(32), default=ReviewPolicy.AFTER_SUBMISSION.value)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=True)


class QuizAttempt(TenantScoped, Base):
    """One attempt, with exactly what was shown (questions, order, options) and how it was graded."""

    __tablename__ = "quiz_attempts"
    __tenant_table_args__ = (
        Index("ux_quiz_attempts_number", "tenant_id", "quiz_id", "user_id", "number", unique=True),
        Index("ix_quiz_attempts_quiz_status", "tenant_id", "quiz_id", "status"),
        _fk("quiz_id", "quizzes"),
        _fk("user_id", "users"),
    )

    quiz_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.IN_PROGRESS.value)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # [{"question_id", "points", "payload" (snapshot with key), "order": [...]}] in display order.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # [{"question_id", "score", "points", "correct", "response"}] once graded.
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    score_pct: Mapped[float | None] = mapped_column(Float, default=None)
    passed: Mapped[bool | None] = mapped_column(Boolean, default=None)


class Assignment(TenantScoped, Base):
    """The assignment of an assignment lesson: rubric, due date, late policy, peer review settings."""

    __tablename__ = "assignments"
    __tenant_table_args__ = (
        Index("ux_assignments_lesson", "tenant_id", "lesson_id", unique=True),
        # The hourly due-date reminders read assignments by due date across tenants.
        Index("ix_assignments_due", "due_at", postgresql_where=text("due_at IS NOT NULL")),
        _fk("lesson_id", "lessons"),
        _fk("course_id", "courses"),
        CheckConstraint("late_penalty_pct >= 0 AND late_penalty_pct <= 100", name="ck_assignments_penalty"),
    )

    lesson_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    # [{"id", "title", "levels": [{"id", "title", "points"}]}]
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    late_policy: Mapped[str] = mapped_column(String(16), default="penalty")  # "penalty" | "block"
    late_penalty_pct: Mapped[float] = mapped_column(Float, default=10.0)
    pass_pct: Mapped[float] = mapped_column(Float, default=60.0)
    submission_types: Mapped[list[str]] = mapped_column(JSONB, default=list)  # text / file / url
    max_file_bytes: Mapped[int] = mapped_column(Integer, default=5 * 1024 * 1024)
    allowed_extensions: Mapped[list[str]] = mapped_column(JSONB, default=list)
    peer_review: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewers_per_submission: Mapped[int] = mapped_column(Integer, default=3)
    review_hours: Mapped[int] = mapped_column(Integer, default=72)
    anonymous_reviews: Mapped[bool] = mapped_column(Boolean, default=True)


class Submission(TenantScoped, Base):
    """A learner's submission to an assignment (one per learner; resubmissions add versions)."""

    __tablename__ = "assignment_submissions"
    __tenant_table_args__ = (
        Index("ux_assignment_submissions_user", "tenant_id", "assignment_id", "user_id", unique=True),
        _fk("assignment_id", "assignments"),
        _fk("user_id", "users"),
    )

    assignment_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.SUBMITTED.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"criterion_id", "level_id", "points", "comment"}]
    rubric_scores: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    feedback: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float | None] = mapped_column(Float, default=None)
    score_pct: Mapped[float | None] = mapped_column(Float, default=None)
    passed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    graded_by: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    peer_score: Mapped[float | None] = mapped_column(Float, default=None)
    instructor_override: Mapped[bool] = mapped_column(Boolean, default=False)


class SubmissionVersion(TenantScoped, Base):
    __tablename__ = "submission_versions"
    __tenant_table_args__ = (
        Index("ux_submission_versions_number", "tenant_id", "submission_id", "number", unique=True),
        _fk("submission_id", "assignment_submissions"),
    )

    submission_id: Mapped[UUID] = mapped_column(GUID())
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    # [{"key", "filename", "size", "content_type"}]
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class PeerReview(TenantScoped, Base):
    __tablename__ = "peer_reviews"
    __tenant_table_args__ = (
        Index("ux_peer_reviews_pair", "tenant_id", "submission_id", "reviewer_id", unique=True),
        Index("ix_peer_reviews_reviewer", "tenant_id", "reviewer_id", "status"),
        _fk("submission_id", "assignment_submissions"),
        _fk("assignment_id", "assignments"),
        _fk("reviewer_id", "users"),
    )

    assignment_id: Mapped[UUID] = mapped_column(GUID())
    submission_id: Mapped[UUID] = mapped_column(GUID())
    reviewer_id: Mapped[UUID] = mapped_column(GUID())
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.ASSIGNED.value)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rubric_scores: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    total: Mapped[float | None] = mapped_column(Float, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AssessmentOutboxEntry(TenantScoped, Base):
    """Notifications (submission received, graded, returned, review assigned), sent after commit."""

    __tablename__ = "assessment_outbox"
    __tenant_table_args__ = (
        Index("ux_assessment_outbox_dedupe", "tenant_id", "dedupe_key", unique=True),
        Index("ix_assessment_outbox_pending", "tenant_id", "created_at", postgresql_where="dispatched_at IS NULL"),
        _fk("user_id", "users"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID())
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
