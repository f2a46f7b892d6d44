"""`app.bind_tenant(tenant)`: binds the tenant for the current transaction (`set_config('app.tenant_id',
..., true)`, as every binding does) and returns it. The read path (lms.db.reads.bound_to_tenant) calls it
in the same statement as a read, so a sessionless read is one round trip in the statement's implicit
transaction instead of BEGIN and the binding, the read, and COMMIT.

SECURITY INVOKER (the default), and the binding is what lms_app may already do itself; RLS policies are
unchanged.

Revision ID: 1615
Revises: 1610
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1615"
down_revision: str | None = "1610"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIND_TENANT = """
CREATE OR REPLACE FUNCTION app.bind_tenant(p_tenant uuid) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
BEGIN
    -- Transaction-local, like every binding: it ends with the calling statement's transaction.
    PERFORM pg_catalog.set_config('app.tenant_id', p_tenant::text, true);
    RETURN p_tenant;
END
$$;
REVOKE ALL ON FUNCTION app.bind_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.bind_tenant(uuid) TO lms_app;
"""


def upgrade() -> None:
    op.execute(BIND_TENANT)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.bind_tenant(uuid)")
