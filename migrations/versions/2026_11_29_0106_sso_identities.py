"""SSO identities keyed by (provider, subject), and the provider each session was started through.

Existing SSO users were matched by e-mail and no subject was ever stored, so no link can be backfilled:
each links on its next sign-in under the new rules. So that this keeps working, providers that exist at
upgrade time get `link_by_verified_email: true`, and existing SAML providers (a company directory whose
addresses the tenant owns, and which rarely marks addresses verified) also `trust_unverified_email: true`.
Providers created afterwards start with both off.

Revision ID: 0106
Revises: 0105
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0106"
down_revision: str | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ux_sso_providers_tenant_id_id", "sso_providers", ["tenant_id", "id"], unique=True)
    op.create_table(
        "sso_identities",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("provider_id", GUID(), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("email_at_link", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "provider_id"], ["sso_providers.tenant_id", "sso_providers.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sso_identities_tenant_id", "sso_identities", ["tenant_id"])
    op.create_index(
        "ux_sso_identities_tenant_provider_subject",
        "sso_identities",
        ["tenant_id", "provider_id", "subject"],
        unique=True,
    )
    op.create_index("ix_sso_identities_tenant_user", "sso_identities", ["tenant_id", "user_id"])
    # policies/identity.sql
    op.execute("ALTER TABLE sso_identities ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE sso_identities FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON sso_identities "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )
    op.add_column("refresh_tokens", sa.Column("sso_provider_id", GUID(), nullable=True))
    op.execute("""UPDATE sso_providers SET config = config || '{"link_by_verified_email": true}'::jsonb""")
    op.execute(
        """UPDATE sso_providers SET config = config || '{"trust_unverified_email": true}'::jsonb
           WHERE kind = 'saml'"""
    )


def downgrade() -> None:
    op.execute(
        "UPDATE sso_providers SET config = config - 'link_by_verified_email' - 'trust_unverified_email'"
        " - 'token_endpoint_auth_method' - 'redirect_uri'"
    )
    op.drop_column("refresh_tokens", "sso_provider_id")
    op.drop_table("sso_identities")
    op.drop_index("ux_sso_providers_tenant_id_id", table_name="sso_providers")
