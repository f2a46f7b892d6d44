"""Course analytics rollups: per day, per lesson and per learner, and each tenant's refresh mark.

Revision ID: 1100
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "1100"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("analytics",)
depends_on: str | Sequence[str] | None = None

TABLES = ("analytics_course_days", "analytics_lesson_stats", "analytics_learners", "analytics_rollup_marks")


def _base_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_course_days",
        *_base_columns(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("enrolments", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ux_analytics_course_days_key", "analytics_course_days", ["tenant_id", "course_id", "day"], unique=True
    )
    op.create_table(
        "analytics_lesson_stats",
        *_base_columns(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("average_score", sa.Float(), nullable=True),
    )
    op.create_index(
        "ux_analytics_lesson_stats_key",
        "analytics_lesson_stats",
        ["tenant_id", "course_id", "lesson_id"],
        unique=True,
    )
    op.create_table(
        "analytics_learners",
        *_base_columns(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completion_pct", sa.Float(), nullable=False),
        sa.Column("lessons_completed", sa.Integer(), nullable=False),
        sa.Column("average_score", sa.Float(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ux_analytics_learners_key", "analytics_learners", ["tenant_id", "course_id", "user_id"], unique=True
    )
    op.create_index(
        "ix_analytics_learners_course", "analytics_learners", ["tenant_id", "course_id", "last_activity_at"]
    )
    op.create_table(
        "analytics_rollup_marks",
        *_base_columns(),
        sa.Column("refreshed_to", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_analytics_rollup_marks_tenant", "analytics_rollup_marks", ["tenant_id"], unique=True)
    # policies/analytics.sql
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
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
