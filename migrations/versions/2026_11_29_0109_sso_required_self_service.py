"""Tenant admins decide themselves whether their people must sign in with SSO: the application role may
update the tenant's settings document (RLS keeps it to the own row).

Revision ID: 0109
Revises: 0108
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0109"
down_revision: str | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A column grant: status, plan, seats and the rest stay the operators'.
    op.execute("GRANT UPDATE (settings) ON tenants TO lms_app")


def downgrade() -> None:
    op.execute("REVOKE UPDATE (settings) ON tenants FROM lms_app")
