"""SCIM provisioning: per-tenant bearer tokens, groups, and external ids on users.

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0101"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("scim_tokens", "user_groups")


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def upgrade() -> None:
    op.add_column("users", sa.Column("external_id", sa.String(255), nullable=True))
    op.create_index(
        "ux_users_tenant_external_id",
        "users",
        ["tenant_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "scim_tokens",
        *_audit_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("last_used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
    )
    op.create_index("ix_scim_tokens_tenant_id", "scim_tokens", ["tenant_id"])
    op.create_index("ux_scim_tokens_tenant_hash", "scim_tokens", ["tenant_id", "token_hash"], unique=True)
    op.create_table(
        "user_groups",
        *_audit_columns(),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
    )
    op.create_index("ix_user_groups_tenant_id", "user_groups", ["tenant_id"])
    op.create_index("ux_user_groups_tenant_name", "user_groups", ["tenant_id", "display_name"], unique=True)

    # policies/identity.sql
    for table in NEW_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )


def downgrade() -> None:
    for table in reversed(NEW_TABLES):
        op.drop_table(table)
    op.drop_index("ux_users_tenant_external_id", table_name="users")
    op.drop_column("users", "external_id")
