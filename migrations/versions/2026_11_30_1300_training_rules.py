"""Training rules: a course assigned to a group or a person with a due date and an optional recurrence.

Revision ID: 1300
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "1300"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("compliance",)
depends_on: str | Sequence[str] | None = ("0800",)  # org_groups


def upgrade() -> None:
    op.create_table(
        "training_rules",
        sa.Column("id", GUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("group_id", GUID(), nullable=True),
        sa.Column("user_id", GUID(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_days", sa.Integer(), nullable=True),
        sa.Column("recur_months", sa.Integer(), nullable=True),
        sa.Column("created_by", GUID(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="training_rules_pkey"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["org_groups.tenant_id", "org_groups.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        sa.CheckConstraint("(group_id IS NULL) <> (user_id IS NULL)", name="ck_training_rules_one_target"),
        sa.CheckConstraint("(due_date IS NULL) <> (due_days IS NULL)", name="ck_training_rules_one_due"),
        sa.CheckConstraint("due_days IS NULL OR due_days BETWEEN 1 AND 3650", name="ck_training_rules_due_days"),
        sa.CheckConstraint("recur_months IS NULL OR recur_months BETWEEN 1 AND 120", name="ck_training_rules_recur"),
    )
    op.create_index("ix_training_rules_tenant_id", "training_rules", ["tenant_id"])
    op.create_index("ux_training_rules_tenant_id_id", "training_rules", ["tenant_id", "id"], unique=True)
    op.execute(
        "CREATE UNIQUE INDEX ux_training_rules_target ON training_rules "
        "(tenant_id, course_id, coalesce(group_id, user_id))"
    )
    # policies/compliance.sql
    op.execute("ALTER TABLE training_rules ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE training_rules FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON training_rules "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("training_rules")
