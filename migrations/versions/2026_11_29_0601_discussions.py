"""Discussions: threads per course (optionally at a lesson and video second), posts with server-side
sanitised HTML and a search vector, votes, follows, reports, and the per-course switch.

Revision ID: 0601
Revises: 0600
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "0601"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "course_discussion_settings",
    "discussion_threads",
    "discussion_posts",
    "discussion_votes",
    "discussion_follows",
    "discussion_reports",
)


def _columns(table: str, *columns: sa.Column, user_columns: tuple[str, ...] = ()) -> None:  # type: ignore[type-arg]
    op.create_table(
        table,
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        *columns,
        *(
            sa.ForeignKeyConstraint(["tenant_id", column], ["users.tenant_id", "users.id"], ondelete="CASCADE")
            for column in user_columns
        ),
    )
    op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])


def upgrade() -> None:
    _columns(
        "course_discussion_settings",
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ux_course_discussion_settings", "course_discussion_settings", ["tenant_id", "course_id"], unique=True
    )
    _columns(
        "discussion_threads",
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("lesson_id", GUID(), nullable=True),
        sa.Column("video_seconds", sa.Integer(), nullable=True),
        sa.Column("author_id", GUID(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("answer_post_id", GUID(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("deleted_at", DateTimeUTC(timezone=True), nullable=True),
        user_columns=("author_id",),
    )
    op.create_index("ux_discussion_threads_tenant_id_id", "discussion_threads", ["tenant_id", "id"], unique=True)
    op.create_index(
        "ix_discussion_threads_course", "discussion_threads", ["tenant_id", "course_id", "last_activity_at"]
    )
    op.create_index("ix_discussion_threads_lesson", "discussion_threads", ["tenant_id", "lesson_id"])
    _columns(
        "discussion_posts",
        sa.Column("thread_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("author_id", GUID(), nullable=False),
        sa.Column("opening", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("staff", sa.Boolean(), nullable=False),
        sa.Column("vote_count", sa.Integer(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("moderation_reason", sa.String(500), nullable=True),
        sa.Column(
            "search_vector", TSVECTOR(), sa.Computed("to_tsvector('simple', coalesce(body, ''))", persisted=True)
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "thread_id"], ["discussion_threads.tenant_id", "discussion_threads.id"], ondelete="CASCADE"
        ),
        user_columns=("author_id",),
    )
    op.create_index("ux_discussion_posts_tenant_id_id", "discussion_posts", ["tenant_id", "id"], unique=True)
    op.create_index("ix_discussion_posts_thread", "discussion_posts", ["tenant_id", "thread_id", "created_at"])
    op.create_index("ix_discussion_posts_author", "discussion_posts", ["tenant_id", "author_id", "created_at"])
    op.create_index("ix_discussion_posts_search", "discussion_posts", ["search_vector"], postgresql_using="gin")
    op.create_index(
        "ix_discussion_posts_reported",
        "discussion_posts",
        ["tenant_id", "course_id"],
        postgresql_where=sa.text("report_count > 0"),
    )
    _columns(
        "discussion_votes",
        sa.Column("post_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        user_columns=("user_id",),
    )
    op.create_index("ux_discussion_votes", "discussion_votes", ["tenant_id", "post_id", "user_id"], unique=True)
    _columns(
        "discussion_follows",
        sa.Column("thread_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        user_columns=("user_id",),
    )
    op.create_index("ux_discussion_follows", "discussion_follows", ["tenant_id", "thread_id", "user_id"], unique=True)
    _columns(
        "discussion_reports",
        sa.Column("post_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("reporter_id", GUID(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("resolved_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(20), nullable=True),
        user_columns=("reporter_id",),
    )
    op.create_index("ux_discussion_reports", "discussion_reports", ["tenant_id", "post_id", "reporter_id"], unique=True)
    op.create_index(
        "ix_discussion_reports_open",
        "discussion_reports",
        ["tenant_id", "course_id"],
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    # policies/discussions.sql
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
