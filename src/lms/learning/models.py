"""Enrolments, per-lesson progress, the ingested progress-event log, its dead letters and the learning outbox."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
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

from lms.catalog.schemas import SHARED_CATALOGUE_OWNER
from lms.db.base import Base, TenantScoped

_OWNER_CHECK = "{col} = tenant_id OR {col} = '" + str(SHARED_CATALOGUE_OWNER) + "'::uuid"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    REFUNDED = "refunded"
    EXPIRED = "expired"


class EnrollmentSource(enum.StrEnum):
    SELF = "self"
    ADMIN = "admin"
    GROUP = "group"


class ProgressStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Enrollment(TenantScoped, Base):
    """A learner in a course (one per user and course), on the course version they started."""

    __tablename__ = "enrollments"
    __usage_label__ = "enrollments"
    __tenant_table_args__ = (
        Index("ux_enrollments_user_course", "tenant_id", "user_id", "course_id", unique=True),
        Index("ix_enrollments_course", "tenant_id", "course_id"),
        # The hourly due-date reminders read active enrolments by due date across tenants.
        Index("ix_enrollments_due", "due_at", postgresql_where=text("status = 'active' AND due_at IS NOT NULL")),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        # The course is this tenant's own or a shared one (course_owner is checked below).
        ForeignKeyConstraint(["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"]),
        ForeignKeyConstraint(["course_owner", "version_id"], ["course_versions.catalogue_owner", "course_versions.id"]),
        CheckConstraint(_OWNER_CHECK.format(col="course_owner"), name="ck_enrollments_course_owner"),
        CheckConstraint("completion_pct >= 0 AND completion_pct <= 100", name="ck_enrollments_completion_pct"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    course_owner: Mapped[UUID] = mapped_column(GUID())
    version_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    source: Mapped[EnrollmentSource] = mapped_column(
        _enum(EnrollmentSource, "enrollment_source"), default=EnrollmentSource.SELF
    )
    assigned_by: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    completion_pct: Mapped[float] = mapped_column(Float, default=0.0)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_lesson_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LessonProgress(TenantScoped, Base):
    """Folded progress of one user on one lesson, and the resume position (latest client time wins)."""

    __tablename__ = "lesson_progress"
    __tenant_table_args__ = (
        Index("ux_lesson_progress_user_lesson", "tenant_id", "user_id", "lesson_id", unique=True),
        Index("ix_lesson_progress_enrollment", "tenant_id", "enrollment_id"),
        # The rows written since a moment (the course rollups recount only those learners and lessons).
        Index("ix_lesson_progress_updated", "tenant_id", "updated_at"),
        ForeignKeyConstraint(
            ["tenant_id", "enrollment_id"], ["enrollments.tenant_id", "enrollments.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["lesson_owner", "lesson_id"], ["lessons.catalogue_owner", "lessons.id"], ondelete="CASCADE"
        ),
        CheckConstraint(_OWNER_CHECK.format(col="lesson_owner"), name="ck_lesson_progress_lesson_owner"),
    )

    enrollment_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    lesson_id: Mapped[UUID] = mapped_column(GUID())
    lesson_owner: Mapped[UUID] = mapped_column(GUID())
    status: Mapped[ProgressStatus] = mapped_column(
        _enum(ProgressStatus, "progress_status"), default=ProgressStatus.IN_PROGRESS
    )
    # Merged [start, end] second ranges actually played (seeking does not add to them).
    watched_ranges: Mapped[list[list[float]]] = mapped_column(JSONB, default=list)
    watched_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    scroll_depth: Mapped[float] = mapped_column(Float, default=0.0)
    position_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    position_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    passed: Mapped[bool | None] = mapped_column(default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ProgressEvent(TenantScoped, Base):
    """Every accepted client event once (deduplicated by the client's event id), as folded."""

    __tablename__ = "progress_events"
    __tenant_table_args__ = (
        Index("ux_progress_events_client_id", "tenant_id", "user_id", "client_event_id", unique=True),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID())
    client_event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    lesson_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class ProgressDeadLetter(TenantScoped, Base):
    """A progress event the fold could not store: kept raw with the reason, for operators.

    Keyed by its stream entry and position in it, so a redelivered entry is recorded once."""

    __tablename__ = "progress_dead_letters"
    __tenant_table_args__ = (
        Index("ux_progress_dead_letters_entry", "tenant_id", "stream_entry_id", "event_index", unique=True),
        Index("ix_progress_dead_letters_created", "tenant_id", "created_at"),
    )

    # No foreign key: the letter must outlive a deleted user, and is about a row that never existed.
    user_id: Mapped[UUID | None] = mapped_column(GUID(), nullable=True)
    stream_entry_id: Mapped[str] = mapped_column(String(64))
    # -1 when the entry's event list itself did not decode.
    event_index: Mapped[int] = mapped_column(Integer)
    raw_event: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class LearningOutboxEntry(TenantScoped, Base):
    """Milestones and course completions for other domains; written in the same transaction."""

    __tablename__ = "learning_outbox"
    __tenant_table_args__ = (
        Index("ux_learning_outbox_dedupe", "tenant_id", "dedupe_key", unique=True),
        Index("ix_learning_outbox_pending", "tenant_id", "created_at", postgresql_where="dispatched_at IS NULL"),
        ForeignKeyConstraint(
            ["tenant_id", "enrollment_id"], ["enrollments.tenant_id", "enrollments.id"], ondelete="CASCADE"
        ),
    )

    enrollment_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    kind: Mapped[str] = mapped_column(String(32))  # "milestone" | "course_completed"
    milestone: Mapped[int | None] = mapped_column(Integer, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
