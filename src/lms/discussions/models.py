"""Discussion rows: threads per course (optionally at a lesson and a video second), posts, votes,
follows, reports, and each course's discussion switch."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, Computed, ForeignKeyConstraint, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


def _user_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], ["users.tenant_id", "users.id"], ondelete="CASCADE")


class CourseDiscussionSettings(TenantScoped, Base):
    """Whether a course has discussions (on unless an instructor turned them off)."""

    __tablename__ = "course_discussion_settings"
    __tenant_table_args__ = (Index("ux_course_discussion_settings", "tenant_id", "course_id", unique=True),)

    course_id: Mapped[UUID] = mapped_column(GUID())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Thread(TenantScoped, Base):
    """A question or discussion in a course; its text is the opening post."""

    __tablename__ = "discussion_threads"
    __tenant_table_args__ = (
        _user_fk("author_id"),
        Index("ix_discussion_threads_course", "tenant_id", "course_id", "last_activity_at"),
        Index("ix_discussion_threads_lesson", "tenant_id", "lesson_id"),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    lesson_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    # The second of the lesson's video the question is about (02:13 -> 133).
    video_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    author_id: Mapped[UUID] = mapped_column(GUID())
    title: Mapped[str] = mapped_column(String(200))
    # question | discussion
    kind: Mapped[str] = mapped_column(String(12), default="question")
    answer_post_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class Post(TenantScoped, Base):
    """The opening post or a reply. `body_html` is rendered and sanitised on the server when written."""

    __tablename__ = "discussion_posts"
    __tenant_table_args__ = (
        _user_fk("author_id"),
        ForeignKeyConstraint(
            ["tenant_id", "thread_id"], ["discussion_threads.tenant_id", "discussion_threads.id"], ondelete="CASCADE"
        ),
        Index("ix_discussion_posts_thread", "tenant_id", "thread_id", "created_at"),
        # The thread page finds the opening post without reading a long thread's replies.
        Index("ix_discussion_posts_opening", "tenant_id", "thread_id", postgresql_where=text("opening")),
        Index("ix_discussion_posts_author", "tenant_id", "author_id", "created_at"),
        Index("ix_discussion_posts_search", "search_vector", postgresql_using="gin"),
        Index("ix_discussion_posts_reported", "tenant_id", "course_id", postgresql_where=text("report_count > 0")),
    )

    thread_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    author_id: Mapped[UUID] = mapped_column(GUID())
    opening: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # The author was course staff when writing: shown as a badge.
    staff: Mapped[bool] = mapped_column(Boolean, default=False)
    vote_count: Mapped[int] = mapped_column(Integer, default=0)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    # Hidden from learners (reported, or hidden by staff) until staff restore it.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    moderation_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('simple', coalesce(body, ''))", persisted=True),
        deferred=True,
        deferred_raiseload=True,
    )


class PostVote(TenantScoped, Base):
    __tablename__ = "discussion_votes"
    __tenant_table_args__ = (
        _user_fk("user_id"),
        Index("ux_discussion_votes", "tenant_id", "post_id", "user_id", unique=True),
    )

    post_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())


class ThreadFollow(TenantScoped, Base):
    __tablename__ = "discussion_follows"
    __tenant_table_args__ = (
        _user_fk("user_id"),
        Index("ux_discussion_follows", "tenant_id", "thread_id", "user_id", unique=True),
    )

    thread_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())


class PostReport(TenantScoped, Base):
    """A member's report of a post; open until staff resolve it (restore or delete)."""

    __tablename__ = "discussion_reports"
    __tenant_table_args__ = (
        _user_fk("reporter_id"),
        Index("ux_discussion_reports", "tenant_id", "post_id", "reporter_id", unique=True),
        Index("ix_discussion_reports_open", "tenant_id", "course_id", postgresql_where=text("resolved_at IS NULL")),
    )

    post_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    reporter_id: Mapped[UUID] = mapped_column(GUID())
    reason: Mapped[str] = mapped_column(String(500))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)
