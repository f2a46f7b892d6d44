"""Tenant admins change their own site's branding: the application role may update that column only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A column grant: status, plan, seats and the rest stay the operators'; RLS limits it to the own row.
    op.execute("GRANT UPDATE (branding, updated_at) ON tenants TO lms_app")


def downgrade() -> None:
    op.execute("REVOKE UPDATE (branding, updated_at) ON tenants FROM lms_app")
