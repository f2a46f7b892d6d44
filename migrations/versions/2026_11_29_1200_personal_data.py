"""Personal data (GDPR): exports of a person's data, erasures done, and each tenant's erasure policy.

Revision ID: 1200
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "1200"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("privacy",)
depends_on: str | Sequence[str] | None = None

TABLES = ("privacy_exports", "privacy_erasures", "privacy_settings")


def _base_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def _primary_key() -> sa.PrimaryKeyConstraint:
    # (id, tenant_id), as the models declare it: distributable by tenant from the start.
    return sa.PrimaryKeyConstraint("id", "tenant_id")


def _user_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "privacy_exports",
        *_base_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("requested_by", GUID(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file_key", sa.String(500), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        _primary_key(),
        _user_fk(),
    )
    op.create_index("ix_privacy_exports_tenant_user", "privacy_exports", ["tenant_id", "user_id", "created_at"])

    op.create_table(
        "privacy_erasures",
        *_base_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("erased_by", GUID(), nullable=True),
        sa.Column("erased_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("certificates", sa.String(8), nullable=False),
        sa.Column("certificates_revoked", sa.Integer(), nullable=False),
        _primary_key(),
        _user_fk(),
    )
    op.create_index("ux_privacy_erasures_tenant_user", "privacy_erasures", ["tenant_id", "user_id"], unique=True)

    op.create_table(
        "privacy_settings",
        *_base_columns(),
        sa.Column("erasure_certificates", sa.String(8), nullable=False),
        sa.CheckConstraint("erasure_certificates IN ('revoke', 'keep')", name="ck_privacy_settings_certificates"),
        _primary_key(),
    )
    op.create_index("ux_privacy_settings_tenant", "privacy_settings", ["tenant_id"], unique=True)

    # policies/privacy.sql
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
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
