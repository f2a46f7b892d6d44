"""An index for the admin user list, which pages through a tenant's users by creation order.

Revision ID: 0105
Revises: 0104
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0105"
down_revision: str | None = "0104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_tenant_created", "users", ["tenant_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_tenant_created", table_name="users")
