"""Course rollups refreshed by what changed: each learner row keeps the latest of its progress rows
alone; progress rows are found by when they were written; the gradebook has one index per order.

Revision ID: 1450
Revises: 1500
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1450"
down_revision: str | None = "1500"  # after the key swap, so it sees the tables as they now are
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRADEBOOK_ORDERS = {
    "ix_analytics_learners_activity": [sa.text("last_activity_at desc nulls last")],
    "ix_analytics_learners_progress": [sa.text("completion_pct desc")],
    "ix_analytics_learners_score": [sa.text("average_score desc nulls last")],
    "ix_analytics_learners_enrolled": ["enrolled_at"],
}


def upgrade() -> None:
    op.add_column("analytics_learners", sa.Column("progress_activity_at", sa.DateTime(timezone=True), nullable=True))
    # Rows written before this revision: the next refresh recounts whole courses (no mark).
    op.execute("DELETE FROM analytics_rollup_marks")
    op.drop_index("ix_analytics_learners_course", table_name="analytics_learners")
    for name, order in GRADEBOOK_ORDERS.items():
        op.create_index(name, "analytics_learners", ["tenant_id", "course_id", *order, "user_id"])
    op.create_index("ix_lesson_progress_updated", "lesson_progress", ["tenant_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_lesson_progress_updated", table_name="lesson_progress")
    for name in GRADEBOOK_ORDERS:
        op.drop_index(name, table_name="analytics_learners")
    op.create_index(
        "ix_analytics_learners_course", "analytics_learners", ["tenant_id", "course_id", "last_activity_at"]
    )
    op.drop_column("analytics_learners", "progress_activity_at")
