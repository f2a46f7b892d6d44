"""Billing: the start of the subscription's current period (to know which period an overage belongs
to), the overage charged per closed period (once each), and the amount refunded on a course purchase.

Revision ID: 1440
Revises: 0700
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "1440"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("billing_accounts", sa.Column("current_period_start", DateTimeUTC(timezone=True), nullable=True))
    op.add_column(
        "billing_course_purchases",
        sa.Column("amount_refunded_cents", sa.Integer(), nullable=False, server_default="0"),
    )
    # Room for "partially_refunded".
    op.alter_column("billing_course_purchases", "status", type_=sa.String(24), existing_nullable=False)
    op.create_table(
        "billing_overage_charges",
        sa.Column("id", GUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("period_start", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("period_end", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("plan_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("peak_used", sa.Integer(), nullable=False),
        sa.Column("licensed", sa.Integer(), nullable=False),
        sa.Column("seats_over", sa.Integer(), nullable=False),
        sa.Column("unit_amount_cents", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stripe_invoice_item_id", sa.String(100), nullable=True),
        sa.Column("billed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="billing_overage_charges_pkey"),
    )
    op.create_index("ix_billing_overage_charges_tenant_id", "billing_overage_charges", ["tenant_id"])
    op.create_index(
        "ux_billing_overage_charges_period", "billing_overage_charges", ["tenant_id", "period_start"], unique=True
    )
    op.create_index("ix_billing_overage_charges_status", "billing_overage_charges", ["status", "tenant_id"])
    # policies/billing.sql
    op.execute("ALTER TABLE billing_overage_charges ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE billing_overage_charges FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON billing_overage_charges "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("billing_overage_charges")
    op.execute("UPDATE billing_course_purchases SET status = 'paid' WHERE status = 'partially_refunded'")
    op.alter_column("billing_course_purchases", "status", type_=sa.String(16), existing_nullable=False)
    op.drop_column("billing_course_purchases", "amount_refunded_cents")
    op.drop_column("billing_accounts", "current_period_start")
