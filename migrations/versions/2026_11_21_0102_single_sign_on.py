"""Single sign-on: per-tenant SAML and OpenID Connect providers, and SAML assertion ids kept against replay.

Revision ID: 0102
Revises: 0101
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0102"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("sso_providers", "saml_assertions_seen")


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sso_providers",
        *_audit_columns(),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("email_domains", postgresql.ARRAY(sa.String(253)), nullable=False, server_default="{}"),
        sa.Column("config", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("attribute_mapping", postgresql.JSONB(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_sso_providers_tenant_id", "sso_providers", ["tenant_id"])
    op.create_index("ux_sso_providers_tenant_name", "sso_providers", ["tenant_id", "name"], unique=True)
    op.create_table(
        "saml_assertions_seen",
        *_audit_columns(),
        sa.Column("assertion_id", sa.String(256), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index("ix_saml_assertions_seen_tenant_id", "saml_assertions_seen", ["tenant_id"])
    op.create_index(
        "ux_saml_assertions_seen_tenant_assertion", "saml_assertions_seen", ["tenant_id", "assertion_id"], unique=True
    )

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
