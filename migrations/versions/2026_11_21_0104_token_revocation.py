"""Access-token revocation: users.tokens_revoked_at and app.recently_revoked_users.

Revision ID: 0104
Revises: 0103
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0104"
down_revision: str | None = "0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("tokens_revoked_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_index(
        "ix_users_tokens_revoked_at",
        "users",
        ["tokens_revoked_at"],
        postgresql_where=sa.text("tokens_revoked_at IS NOT NULL"),
    )
    # policies/identity.sql: SECURITY DEFINER on purpose, see the comment there.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION app.recently_revoked_users(p_since timestamptz)
            RETURNS TABLE (user_id uuid, revoked_at timestamptz)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
        AS $$
            SELECT u.id, u.tokens_revoked_at FROM users u WHERE u.tokens_revoked_at > p_since
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION app.recently_revoked_users(timestamptz) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION app.recently_revoked_users(timestamptz) TO lms_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.recently_revoked_users(timestamptz)")
    op.drop_index("ix_users_tokens_revoked_at", table_name="users")
    op.drop_column("users", "tokens_revoked_at")
