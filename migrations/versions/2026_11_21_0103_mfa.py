"""Multi-factor sign-in: TOTP secrets, recovery codes, and the tenant's MFA requirement.

Revision ID: 0103
Revises: 0102
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0103"
down_revision: str | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("mfa_recovery_codes", "identity_settings")


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def upgrade() -> None:
    op.add_column("users", sa.Column("totp_secret_encrypted", sa.LargeBinary(), nullable=True))
    op.add_column("users", sa.Column("mfa_enabled", sa.Boolean(), nullable=False, server_default="false"))
    op.create_table(
        "mfa_recovery_codes",
        *_audit_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_mfa_recovery_codes_tenant_id", "mfa_recovery_codes", ["tenant_id"])
    op.create_index("ix_mfa_recovery_codes_tenant_user", "mfa_recovery_codes", ["tenant_id", "user_id"])
    op.create_table(
        "identity_settings",
        *_audit_columns(),
        sa.Column("mfa_required_for_staff", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.create_index("ux_identity_settings_tenant", "identity_settings", ["tenant_id"], unique=True)

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
    op.drop_column("users", "mfa_enabled")
    op.drop_column("users", "totp_secret_encrypted")
