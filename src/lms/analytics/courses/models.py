"""Course rollups: per day, per lesson and per learner. Workers rewrite a course's rows from the
learning tables when the course had activity; pages read only these (never the raw events)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import Date, DateTime, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class CourseDay(TenantScoped, Base):
    """Enrolments and completions of a course on one day (UTC)."""

    __tablename__ = "analytics_course_days"
    __tenant_table_args__ = (Index("ux_analytics_course_days_key", "tenant_id", "course_id", "day", unique=True),)

    course_id: Mapped[UUID] = mapped_column(GUID())
    day: Mapped[date] = mapped_column(Date)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)


class LessonStats(TenantScoped, Base):
    """How many learners started and completed a lesson, and their average score (assessed lessons)."""

    __tablename__ = "analytics_lesson_stats"
    __tenant_table_args__ = (
        Index("ux_analytics_lesson_stats_key", "tenant_id", "course_id", "lesson_id", unique=True),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    lesson_id: Mapped[UUID] = mapped_column(GUID())
    started: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    average_score: Mapped[float | None] = mapped_column(Float, default=None)


class LearnerStats(TenantScoped, Base):
    """One learner in one course: the gradebook row."""

    __tablename__ = "analytics_learners"
    __tenant_table_args__ = (
        Index("ux_analytics_learners_key", "tenant_id", "course_id", "user_id", unique=True),
        # One index per gradebook order, so a page is the first rows of an index scan.
        Index(
            "ix_analytics_learners_activity",
            "tenant_id",
            "course_id",
            text("last_activity_at desc nulls last"),
            "user_id",
        ),
        Index("ix_analytics_learners_progress", "tenant_id", "course_id", text("completion_pct desc"), "user_id"),
        Index(
            "ix_analytics_learners_score", "tenant_id", "course_id", text("average_score desc nulls last"), "user_id"
        ),
        Index("ix_analytics_learners_enrolled", "tenant_id", "course_id", "enrolled_at", "user_id"),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    status: Mapped[str] = mapped_column(String(16), default="active")
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completion_pct: Mapped[float] = mapped_column(Float, default=0.0)
    lessons_completed: Mapped[int] = mapped_column(Integer, default=0)
    average_score: Mapped[float | None] = mapped_column(Float, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The latest of the learner's progress rows alone (last activity is this or the enrolment's), so a
    # change to the enrolment alone updates the row without reading the progress rows again.
    progress_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RollupMark(TenantScoped, Base):
    """Up to when a tenant's rollups reflect the learning tables (the next refresh starts there)."""

    __tablename__ = "analytics_rollup_marks"
    __tenant_table_args__ = (Index("ux_analytics_rollup_marks_tenant", "tenant_id", unique=True),)

    refreshed_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
