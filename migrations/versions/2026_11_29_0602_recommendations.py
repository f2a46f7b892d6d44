"""Recommendations and goals: item-to-item course similarities per tenant, learners' weekly goals.

Revision ID: 0602
Revises: 0601
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0602"
down_revision: str | None = "0601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("course_similarities", "learning_goals")


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
        "course_similarities",
        *_base_columns(),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("similar_course_id", GUID(), nullable=False),
        sa.Column("together", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("computed_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index("ix_course_similarities_tenant_id", "course_similarities", ["tenant_id"])
    op.create_index(
        "ux_course_similarities",
        "course_similarities",
        ["tenant_id", "course_id", "similar_course_id"],
        unique=True,
    )
    op.create_table(
        "learning_goals",
        *_base_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("weekly_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_learning_goals_tenant_id", "learning_goals", ["tenant_id"])
    op.create_index("ux_learning_goals_user", "learning_goals", ["tenant_id", "user_id"], unique=True)
    # policies/analytics.sql
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
