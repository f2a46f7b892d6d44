"""The tenant admins' audit log: every administrative change inside a tenant.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_audit_log",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("actor_user_id", GUID(), nullable=True),
        sa.Column("actor_label", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("target_label", sa.String(320), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_admin_audit_log_tenant_id", "admin_audit_log", ["tenant_id"])
    op.create_index("ix_admin_audit_log_time", "admin_audit_log", ["tenant_id", "created_at"])
    op.create_index("ix_admin_audit_log_target", "admin_audit_log", ["tenant_id", "target_type", "target_id"])
    op.create_index("ix_admin_audit_log_actor", "admin_audit_log", ["tenant_id", "actor_user_id", "created_at"])
    # policies/tenancy.sql
    op.execute("ALTER TABLE admin_audit_log ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE admin_audit_log FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON admin_audit_log "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("admin_audit_log")
