"""Tenants opt in to courses of the shared catalogue.

Revision ID: 0201
Revises: 0200
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0201"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARED = "00000000-0000-0000-0000-000000000000"


def upgrade() -> None:
    op.create_table(
        "shared_course_offers",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("shared_owner", GUID(), nullable=False, server_default=SHARED),
        sa.Column("offered_by", GUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shared_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint(f"shared_owner = '{SHARED}'::uuid", name="ck_shared_course_offers_shared"),
    )
    op.create_index("ix_shared_course_offers_tenant_id", "shared_course_offers", ["tenant_id"])
    op.create_index("ux_shared_course_offers_course", "shared_course_offers", ["tenant_id", "course_id"], unique=True)
    # policies/catalog.sql
    op.execute("ALTER TABLE shared_course_offers ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE shared_course_offers FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON shared_course_offers "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("shared_course_offers")
