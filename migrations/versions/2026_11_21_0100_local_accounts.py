"""Local accounts: password hashes, managers and groups, refresh-token families, one-time links, e-mail outbox.

Revision ID: 0100
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0100"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("identity",)
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("refresh_tokens", "action_tokens", "email_outbox")


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def _user_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    op.add_column("users", sa.Column("password_changed_at", DateTimeUTC(timezone=True), nullable=True))
    op.add_column("users", sa.Column("manager_id", GUID(), nullable=True))
    op.add_column("users", sa.Column("groups", postgresql.ARRAY(sa.String(200)), nullable=False, server_default="{}"))
    op.add_column("users", sa.Column("last_login_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_foreign_key(
        "fk_users_manager", "users", "users", ["tenant_id", "manager_id"], ["tenant_id", "id"], ondelete="NO ACTION"
    )
    op.create_index("ix_users_tenant_manager", "users", ["tenant_id", "manager_id"])

    op.create_table(
        "refresh_tokens",
        *_audit_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("family_id", GUID(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        _user_fk(),
    )
    op.create_index("ix_refresh_tokens_tenant_id", "refresh_tokens", ["tenant_id"])
    op.create_index("ux_refresh_tokens_tenant_hash", "refresh_tokens", ["tenant_id", "token_hash"], unique=True)
    op.create_index("ix_refresh_tokens_tenant_family", "refresh_tokens", ["tenant_id", "family_id"])
    op.create_index("ix_refresh_tokens_tenant_user", "refresh_tokens", ["tenant_id", "user_id"])

    op.create_table(
        "action_tokens",
        *_audit_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", DateTimeUTC(timezone=True), nullable=True),
        _user_fk(),
    )
    op.create_index("ix_action_tokens_tenant_id", "action_tokens", ["tenant_id"])
    op.create_index("ux_action_tokens_tenant_hash", "action_tokens", ["tenant_id", "token_hash"], unique=True)
    op.create_index("ix_action_tokens_tenant_user", "action_tokens", ["tenant_id", "user_id"])

    op.create_table(
        "email_outbox",
        *_audit_columns(),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("sent_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_email_outbox_tenant_id", "email_outbox", ["tenant_id"])
    op.create_index("ix_email_outbox_tenant_created", "email_outbox", ["tenant_id", "created_at"])

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
    op.drop_index("ix_users_tenant_manager", table_name="users")
    op.drop_constraint("fk_users_manager", "users", type_="foreignkey")
    for column in ("last_login_at", "groups", "manager_id", "password_changed_at", "password_hash"):
        op.drop_column("users", column)
