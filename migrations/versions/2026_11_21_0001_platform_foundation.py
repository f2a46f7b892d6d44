"""Platform foundation: tenants, domains, operators, audit log, RLS functions and grants.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_STATUS = postgresql.ENUM("active", "suspended", "deleted", name="tenant_status", create_type=False)
TENANT_PLAN = postgresql.ENUM("trial", "team", "business", "enterprise", name="tenant_plan", create_type=False)


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    # policies/_functions.sql
    op.execute("CREATE SCHEMA IF NOT EXISTS app")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION app.current_tenant() RETURNS uuid
            LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA app TO lms_app, lms_operator")
    op.execute("GRANT EXECUTE ON FUNCTION app.current_tenant() TO lms_app, lms_operator")
    # Every table lms_owner creates from now on is usable by the app (under RLS) and readable by
    # the operator role; platform tables revoke what the app must not reach.
    op.execute(
        "ALTER DEFAULT PRIVILEGES FOR ROLE lms_owner IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO lms_app"
    )
    op.execute("ALTER DEFAULT PRIVILEGES FOR ROLE lms_owner IN SCHEMA public GRANT SELECT ON TABLES TO lms_operator")
    op.execute(
        "ALTER DEFAULT PRIVILEGES FOR ROLE lms_owner IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO lms_app"
    )

    TENANT_STATUS.create(op.get_bind(), checkfirst=True)
    TENANT_PLAN.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "tenants",
        *_audit_columns(),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", TENANT_STATUS, nullable=False, server_default="active"),
        sa.Column("plan", TENANT_PLAN, nullable=False, server_default="trial"),
        sa.Column("seats", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("branding", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("settings", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "tenant_domains",
        *_audit_columns(),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("is_primary", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("verification_token", sa.String(64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tenant_domains_tenant_id", "tenant_domains", ["tenant_id"])
    op.create_index("ix_tenant_domains_hostname", "tenant_domains", ["hostname"], unique=True)
    op.create_index(
        "ux_tenant_domains_primary",
        "tenant_domains",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )
    op.create_table(
        "operators",
        *_audit_columns(),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.create_table(
        "operator_audit_log",
        *_audit_columns(),
        sa.Column("operator_id", GUID(), sa.ForeignKey("operators.id", ondelete="SET NULL"), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_tenant_id", GUID(), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_operator_audit_log_target", "operator_audit_log", ["target_tenant_id", "created_at"])

    # Platform tables: the app reads tenants (its own row, under RLS) and nothing else of these.
    op.execute("REVOKE ALL ON operators, operator_audit_log FROM lms_app")
    op.execute("REVOKE INSERT, UPDATE, DELETE ON tenants FROM lms_app")
    op.execute("GRANT INSERT, UPDATE, DELETE ON tenants, tenant_domains, operators TO lms_operator")
    op.execute("GRANT INSERT ON operator_audit_log TO lms_operator")

    # policies/tenancy.sql
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON tenants "
        "USING (id = (select app.current_tenant())) WITH CHECK (id = (select app.current_tenant()))"
    )
    op.execute("ALTER TABLE tenant_domains ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenant_domains FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON tenant_domains "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )

    # policies/_functions.sql: SECURITY DEFINER on purpose, see the comment there.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION app.resolve_tenant(p_host text, p_base_domain text)
            RETURNS TABLE (id uuid, slug text, name text, status text, branding jsonb)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
        AS $$
            SELECT t.id, t.slug::text, t.name::text, t.status::text, t.branding
              FROM tenants t JOIN tenant_domains d ON d.tenant_id = t.id
             WHERE d.hostname = lower(p_host) AND d.verified
            UNION ALL
            SELECT t.id, t.slug::text, t.name::text, t.status::text, t.branding
              FROM tenants t
             WHERE p_base_domain <> '' AND lower(p_host) = t.slug || '.' || lower(p_base_domain)
            LIMIT 1
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION app.resolve_tenant(text, text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION app.resolve_tenant(text, text) TO lms_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.resolve_tenant(text, text)")
    op.drop_table("operator_audit_log")
    op.drop_table("operators")
    op.drop_table("tenant_domains")
    op.drop_table("tenants")
    TENANT_PLAN.drop(op.get_bind(), checkfirst=True)
    TENANT_STATUS.drop(op.get_bind(), checkfirst=True)
    op.execute("ALTER DEFAULT PRIVILEGES FOR ROLE lms_owner IN SCHEMA public REVOKE ALL ON TABLES FROM lms_app")
    op.execute("ALTER DEFAULT PRIVILEGES FOR ROLE lms_owner IN SCHEMA public REVOKE ALL ON TABLES FROM lms_operator")
    op.execute("ALTER DEFAULT PRIVILEGES FOR ROLE lms_owner IN SCHEMA public REVOKE ALL ON SEQUENCES FROM lms_app")
    op.execute("DROP FUNCTION IF EXISTS app.current_tenant()")
    op.execute("DROP SCHEMA IF EXISTS app")
