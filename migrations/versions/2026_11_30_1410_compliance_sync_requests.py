"""Compliance sync requests: one pending "apply the training rules now" per tenant, written with the
membership change that calls for it.

Revision ID: 1410
Revises: 1300
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "1410"
down_revision: str | None = "1300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_sync_requests",
        sa.Column("id", GUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="compliance_sync_requests_pkey"),
    )
    op.create_index("ix_compliance_sync_requests_tenant_id", "compliance_sync_requests", ["tenant_id"])
    op.create_index(
        "ux_compliance_sync_requests_tenant_id_id", "compliance_sync_requests", ["tenant_id", "id"], unique=True
    )
    op.create_index(
        "ux_compliance_sync_requests_dedupe", "compliance_sync_requests", ["tenant_id", "dedupe_key"], unique=True
    )
    # policies/compliance.sql
    op.execute("ALTER TABLE compliance_sync_requests ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE compliance_sync_requests FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON compliance_sync_requests "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("compliance_sync_requests")
