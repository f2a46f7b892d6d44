"""Bulk user imports (the uploaded file, its column mapping, progress and outcome), groups with a
parent and an attribute rule, and people's custom attributes.

Revision ID: 0800
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0800"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_imports",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("created_by", GUID(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_key", sa.String(500), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=False),
        sa.Column("deactivate_missing", sa.Boolean(), nullable=False),
        sa.Column("send_invitations", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("result", postgresql.JSONB(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("problems", postgresql.JSONB(), nullable=False),
        sa.Column("report_key", sa.String(500), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("previewed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("applied_at", DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "created_by"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_user_imports_tenant_id", "user_imports", ["tenant_id"])
    op.create_index("ux_user_imports_tenant_id_id", "user_imports", ["tenant_id", "id"], unique=True)
    op.create_index("ix_user_imports_tenant_created", "user_imports", ["tenant_id", "created_at"])
    # policies/organisation.sql
    op.execute("ALTER TABLE user_imports ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE user_imports FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON user_imports "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )

    op.add_column(
        "users", sa.Column("attributes", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb"))
    )
    op.create_table(
        "org_groups",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", GUID(), nullable=True),
        sa.Column("rule_attribute", sa.String(100), nullable=True),
        sa.Column("rule_value", sa.String(200), nullable=True),
    )
    op.create_index("ix_org_groups_tenant_id", "org_groups", ["tenant_id"])
    op.create_index("ux_org_groups_tenant_id_id", "org_groups", ["tenant_id", "id"], unique=True)
    op.create_index("ux_org_groups_tenant_name", "org_groups", ["tenant_id", "name"], unique=True)
    op.create_foreign_key(
        "org_groups_tenant_id_parent_id_fkey",
        "org_groups",
        "org_groups",
        ["tenant_id", "parent_id"],
        ["tenant_id", "id"],
    )
    # policies/organisation.sql
    op.execute("ALTER TABLE org_groups ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE org_groups FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON org_groups "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("org_groups")
    op.drop_column("users", "attributes")
    op.drop_table("user_imports")
