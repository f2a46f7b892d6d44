"""Partial indexes: due dates the hourly reminder job reads, and each thread's opening post.

Revision ID: 0603
Revises: 0602
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0603"
down_revision: str | None = "0602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0200", "0400")  # enrolments, assignments


def upgrade() -> None:
    op.create_index(
        "ix_enrollments_due",
        "enrollments",
        ["due_at"],
        postgresql_where=sa.text("status = 'active' AND due_at IS NOT NULL"),
    )
    op.create_index("ix_assignments_due", "assignments", ["due_at"], postgresql_where=sa.text("due_at IS NOT NULL"))
    op.create_index(
        "ix_discussion_posts_opening",
        "discussion_posts",
        ["tenant_id", "thread_id"],
        postgresql_where=sa.text("opening"),
    )


def downgrade() -> None:
    op.drop_index("ix_discussion_posts_opening", table_name="discussion_posts")
    op.drop_index("ix_assignments_due", table_name="assignments")
    op.drop_index("ix_enrollments_due", table_name="enrollments")
