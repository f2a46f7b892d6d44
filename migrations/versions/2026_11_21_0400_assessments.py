"""Assessments: question banks, questions, quizzes, attempts, assignments, submissions, peer reviews, outbox.

Revision ID: 0400
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0400"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("assessments",)
# Lessons, courses and users are referenced with tenant-inclusive foreign keys.
depends_on: str | Sequence[str] | None = ("0200",)

TABLES = (
    "question_banks",
    "questions",
    "quizzes",
    "quiz_attempts",
    "assignments",
    "assignment_submissions",
    "submission_versions",
    "peer_reviews",
    "assessment_outbox",
)
JSONB = postgresql.JSONB()
TS = sa.DateTime(timezone=True)


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def _fk(local: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", local], [f"{table}.tenant_id", f"{table}.id"], ondelete="CASCADE")


def _table(name: str, *items: sa.Column[object] | sa.Constraint) -> None:
    op.create_table(name, *_columns(), *items)
    op.create_index(f"ix_{name}_tenant_id", name, ["tenant_id"])
    op.create_index(f"ux_{name}_tenant_id_id", name, ["tenant_id", "id"], unique=True)


def upgrade() -> None:
    _table(
        "question_banks",
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        _fk("course_id", "courses"),
    )
    _table(
        "questions",
        sa.Column("bank_id", GUID(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(80), nullable=False, server_default="general"),
        sa.Column("difficulty", sa.String(16), nullable=False, server_default="medium"),
        sa.Column("points", sa.Float(), nullable=False, server_default="1"),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        _fk("bank_id", "question_banks"),
        sa.CheckConstraint("points > 0", name="ck_questions_points"),
    )
    op.create_index("ix_questions_bank_topic", "questions", ["tenant_id", "bank_id", "topic", "difficulty"])
    _table(
        "quizzes",
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("pools", JSONB, nullable=False, server_default="[]"),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pass_pct", sa.Float(), nullable=False, server_default="70"),
        sa.Column("review_policy", sa.String(32), nullable=False, server_default="after_submission"),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("shuffle_options", sa.Boolean(), nullable=False, server_default=sa.true()),
        _fk("lesson_id", "lessons"),
        _fk("course_id", "courses"),
        sa.CheckConstraint("pass_pct >= 0 AND pass_pct <= 100", name="ck_quizzes_pass_pct"),
    )
    op.create_index("ux_quizzes_lesson", "quizzes", ["tenant_id", "lesson_id"], unique=True)
    _table(
        "quiz_attempts",
        sa.Column("quiz_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="in_progress"),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("deadline_at", TS, nullable=True),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("items", JSONB, nullable=False, server_default="[]"),
        sa.Column("answers", JSONB, nullable=False, server_default="{}"),
        sa.Column("results", JSONB, nullable=False, server_default="[]"),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=False, server_default="0"),
        sa.Column("score_pct", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        _fk("quiz_id", "quizzes"),
        _fk("user_id", "users"),
    )
    op.create_index(
        "ux_quiz_attempts_number", "quiz_attempts", ["tenant_id", "quiz_id", "user_id", "number"], unique=True
    )
    op.create_index("ix_quiz_attempts_quiz_status", "quiz_attempts", ["tenant_id", "quiz_id", "status"])
    _table(
        "assignments",
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False, server_default=""),
        sa.Column("rubric", JSONB, nullable=False, server_default="[]"),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("late_policy", sa.String(16), nullable=False, server_default="penalty"),
        sa.Column("late_penalty_pct", sa.Float(), nullable=False, server_default="10"),
        sa.Column("pass_pct", sa.Float(), nullable=False, server_default="60"),
        sa.Column("submission_types", JSONB, nullable=False, server_default="[]"),
        sa.Column("max_file_bytes", sa.Integer(), nullable=False, server_default=str(5 * 1024 * 1024)),
        sa.Column("allowed_extensions", JSONB, nullable=False, server_default="[]"),
        sa.Column("peer_review", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reviewers_per_submission", sa.Integer(), nullable=False, server_default="3"),
        sa.Column("review_hours", sa.Integer(), nullable=False, server_default="72"),
        sa.Column("anonymous_reviews", sa.Boolean(), nullable=False, server_default=sa.true()),
        _fk("lesson_id", "lessons"),
        _fk("course_id", "courses"),
        sa.CheckConstraint("late_penalty_pct >= 0 AND late_penalty_pct <= 100", name="ck_assignments_penalty"),
    )
    op.create_index("ux_assignments_lesson", "assignments", ["tenant_id", "lesson_id"], unique=True)
    _table(
        "assignment_submissions",
        sa.Column("assignment_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="submitted"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("rubric_scores", JSONB, nullable=False, server_default="[]"),
        sa.Column("feedback", sa.Text(), nullable=False, server_default=""),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_pct", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("graded_by", GUID(), nullable=True),
        sa.Column("peer_score", sa.Float(), nullable=True),
        sa.Column("instructor_override", sa.Boolean(), nullable=False, server_default=sa.false()),
        _fk("assignment_id", "assignments"),
        _fk("user_id", "users"),
    )
    op.create_index(
        "ux_assignment_submissions_user",
        "assignment_submissions",
        ["tenant_id", "assignment_id", "user_id"],
        unique=True,
    )
    _table(
        "submission_versions",
        sa.Column("submission_id", GUID(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("files", JSONB, nullable=False, server_default="[]"),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        _fk("submission_id", "assignment_submissions"),
    )
    op.create_index(
        "ux_submission_versions_number", "submission_versions", ["tenant_id", "submission_id", "number"], unique=True
    )
    _table(
        "peer_reviews",
        sa.Column("assignment_id", GUID(), nullable=False),
        sa.Column("submission_id", GUID(), nullable=False),
        sa.Column("reviewer_id", GUID(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="assigned"),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("rubric_scores", JSONB, nullable=False, server_default="[]"),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("completed_at", TS, nullable=True),
        _fk("submission_id", "assignment_submissions"),
        _fk("assignment_id", "assignments"),
        _fk("reviewer_id", "users"),
    )
    op.create_index("ux_peer_reviews_pair", "peer_reviews", ["tenant_id", "submission_id", "reviewer_id"], unique=True)
    op.create_index("ix_peer_reviews_reviewer", "peer_reviews", ["tenant_id", "reviewer_id", "status"])
    op.create_table(
        "assessment_outbox",
        *_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("payload", JSONB, nullable=False, server_default="{}"),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("dispatched_at", TS, nullable=True),
        _fk("user_id", "users"),
    )
    op.create_index("ix_assessment_outbox_tenant_id", "assessment_outbox", ["tenant_id"])
    op.create_index("ux_assessment_outbox_dedupe", "assessment_outbox", ["tenant_id", "dedupe_key"], unique=True)
    op.create_index(
        "ix_assessment_outbox_pending",
        "assessment_outbox",
        ["tenant_id", "created_at"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )

    # policies/assessments.sql
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
