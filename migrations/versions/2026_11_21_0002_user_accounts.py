"""Tenant user accounts (the table every learning domain refers to).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_STATUS = postgresql.ENUM("invited", "active", "deactivated", name="user_status", create_type=False)


def upgrade() -> None:
    USER_STATUS.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "users",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("status", USER_STATUS, nullable=False, server_default="active"),
        sa.Column("roles", postgresql.ARRAY(sa.String(32)), nullable=False, server_default="{learner}"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])
    op.create_index("ux_users_tenant_email", "users", ["tenant_id", sa.text("lower(email)")], unique=True)
    op.create_index("ux_users_tenant_id_id", "users", ["tenant_id", "id"], unique=True)

    # policies/identity.sql
    op.execute("ALTER TABLE users ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE users FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON users "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("users")
    USER_STATUS.drop(op.get_bind(), checkfirst=True)
