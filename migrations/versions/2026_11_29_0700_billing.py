"""Billing: the plan catalogue (a reference table every tenant reads), billing accounts, the Stripe
webhook inbox, course purchases, daily seat snapshots and the billing audit log.

Revision ID: 0700
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0700"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = [
    "billing_accounts",
    "billing_webhook_events",
    "billing_course_purchases",
    "billing_seat_snapshots",
    "billing_audit_log",
]

PLANS = [
    # key, name, seat price (cents), features, overage, rank
    ("trial", "Trial", 0, ["api_access"], "block", 0),
    ("team", "Team", 800, ["api_access", "paid_courses"], "block", 1),
    ("business", "Business", 1500, ["api_access", "paid_courses", "sso", "scim", "custom_domains"], "block", 2),
    ("enterprise", "Enterprise", 2500, ["api_access", "paid_courses", "sso", "scim", "custom_domains"], "bill", 3),
]


def _common() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def _tenant() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False)


def upgrade() -> None:
    plans = op.create_table(
        "billing_plans",
        *_common(),
        sa.Column("key", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("seat_price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("features", ARRAY(sa.String(32)), nullable=False),
        sa.Column("overage", sa.String(8), nullable=False),
        sa.Column("stripe_price_id", sa.String(100), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
    )
    # A reference table: every role reads it, only migrations write it (policies/billing.sql).
    op.execute("REVOKE INSERT, UPDATE, DELETE ON billing_plans FROM lms_app")
    op.execute(
        sa.text(
            "INSERT INTO billing_plans (id, created_at, updated_at, key, name, seat_price_cents, currency, "
            "interval, features, overage, rank) VALUES "
            + ", ".join(
                f"(gen_random_uuid(), now(), now(), '{k}', '{n}', {p}, 'EUR', 'month', "
                f"ARRAY[{', '.join(repr(f) for f in fs)}]::varchar(32)[], '{o}', {r})"
                for k, n, p, fs, o, r in PLANS
            )
        )
    )
    del plans

    op.create_table(
        "billing_accounts",
        *_common(),
        _tenant(),
        sa.Column("plan_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("comp_seats", sa.Integer(), nullable=False),
        sa.Column("trial_ends_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("stripe_customer_id", sa.String(100), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(100), nullable=True),
        sa.Column("current_period_end", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("past_due_since", DateTimeUTC(timezone=True), nullable=True),
    )
    op.create_index("ix_billing_accounts_tenant_id", "billing_accounts", ["tenant_id"])
    op.create_index("ux_billing_accounts_tenant", "billing_accounts", ["tenant_id"], unique=True)
    op.create_index("ix_billing_accounts_customer", "billing_accounts", ["stripe_customer_id"])

    op.create_table(
        "billing_webhook_events",
        *_common(),
        _tenant(),
        sa.Column("stripe_event_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(100), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("handled_at", DateTimeUTC(timezone=True), nullable=True),
    )
    op.create_index("ix_billing_webhook_events_tenant_id", "billing_webhook_events", ["tenant_id"])
    op.create_index(
        "ux_billing_webhook_events_event", "billing_webhook_events", ["tenant_id", "stripe_event_id"], unique=True
    )
    op.create_index("ix_billing_webhook_events_status", "billing_webhook_events", ["tenant_id", "status", "created_at"])

    op.create_table(
        "billing_course_purchases",
        *_common(),
        _tenant(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("checkout_session_id", sa.String(100), nullable=False),
        sa.Column("payment_intent_id", sa.String(100), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paid_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("refunded_at", DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_billing_course_purchases_tenant_id", "billing_course_purchases", ["tenant_id"])
    op.create_index(
        "ux_billing_course_purchases_session",
        "billing_course_purchases",
        ["tenant_id", "checkout_session_id"],
        unique=True,
    )
    op.create_index(
        "ix_billing_course_purchases_learner", "billing_course_purchases", ["tenant_id", "user_id", "course_id"]
    )

    op.create_table(
        "billing_seat_snapshots",
        *_common(),
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("licensed", sa.Integer(), nullable=False),
    )
    op.create_index("ix_billing_seat_snapshots_tenant_id", "billing_seat_snapshots", ["tenant_id"])
    op.create_index("ux_billing_seat_snapshots_day", "billing_seat_snapshots", ["tenant_id", "day"], unique=True)

    op.create_table(
        "billing_audit_log",
        *_common(),
        _tenant(),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("before", JSONB(), nullable=True),
        sa.Column("after", JSONB(), nullable=True),
    )
    op.create_index("ix_billing_audit_log_tenant_id", "billing_audit_log", ["tenant_id"])
    op.create_index("ix_billing_audit_log_created", "billing_audit_log", ["tenant_id", "created_at"])

    # policies/billing.sql
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
    op.drop_table("billing_plans")
