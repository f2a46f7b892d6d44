"""Sign-out ends that session's access tokens: app.recently_revoked_sessions.

Revision ID: 0107
Revises: 0105
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0107"
down_revision: str | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The poll reads the families revoked within the last access-token lifetime.
    op.create_index(
        "ix_refresh_tokens_revoked_at",
        "refresh_tokens",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )
    # policies/identity.sql: SECURITY DEFINER on purpose, see the comment there.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION app.recently_revoked_sessions(p_since timestamptz)
            RETURNS TABLE (session_id uuid, revoked_at timestamptz)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
        AS $$
            SELECT r.family_id, max(r.revoked_at) FROM refresh_tokens r
            WHERE r.revoked_at > p_since GROUP BY r.family_id
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION app.recently_revoked_sessions(timestamptz) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION app.recently_revoked_sessions(timestamptz) TO lms_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.recently_revoked_sessions(timestamptz)")
    op.drop_index("ix_refresh_tokens_revoked_at", table_name="refresh_tokens")
