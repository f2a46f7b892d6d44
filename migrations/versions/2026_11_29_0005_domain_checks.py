"""Custom domains checked by DNS: check state columns, and hostnames unique only once verified.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenant_domains", sa.Column("last_checked_at", DateTimeUTC(timezone=True), nullable=True))
    op.add_column("tenant_domains", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("tenant_domains", sa.Column("next_check_at", DateTimeUTC(timezone=True), nullable=True))
    op.add_column("tenant_domains", sa.Column("failed_checks", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("tenant_domains", sa.Column("lost_at", DateTimeUTC(timezone=True), nullable=True))
    op.drop_index("ix_tenant_domains_hostname", table_name="tenant_domains")
    op.create_index(
        "ux_tenant_domains_verified_hostname",
        "tenant_domains",
        ["hostname"],
        unique=True,
        postgresql_where=sa.text("verified"),
    )
    op.create_index("ux_tenant_domains_hostname", "tenant_domains", ["tenant_id", "hostname"], unique=True)
    op.create_index("ix_tenant_domains_due", "tenant_domains", ["next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_tenant_domains_due", table_name="tenant_domains")
    op.drop_index("ux_tenant_domains_hostname", table_name="tenant_domains")
    op.drop_index("ux_tenant_domains_verified_hostname", table_name="tenant_domains")
    op.create_index("ix_tenant_domains_hostname", "tenant_domains", ["hostname"], unique=True)
    for column in ("lost_at", "failed_checks", "next_check_at", "last_error", "last_checked_at"):
        op.drop_column("tenant_domains", column)
