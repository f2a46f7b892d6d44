"""Notifications: the inbox and e-mail state per user, preferences per kind and channel, and HTML
e-mails with a sender name and headers in the mail outbox.

Revision ID: 0600
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0600"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
# users and the mail outbox (0100), courses (0200)
depends_on: str | Sequence[str] | None = ("0100", "0200")

TABLES = ("notifications", "notification_preferences")


def _audit_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "notifications",
        *_audit_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("params", JSONB(), nullable=False),
        sa.Column("link", sa.String(500), nullable=True),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("read_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("email_state", sa.String(12), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_notifications_tenant_id", "notifications", ["tenant_id"])
    op.create_index("ix_notifications_inbox", "notifications", ["tenant_id", "user_id", "created_at"])
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["tenant_id", "user_id"],
        postgresql_where=sa.text("read_at IS NULL AND in_app"),
    )
    op.create_index(
        "ix_notifications_digest_due",
        "notifications",
        ["tenant_id", "user_id"],
        postgresql_where=sa.text("email_state = 'digest'"),
    )
    op.create_index(
        "ux_notifications_dedupe",
        "notifications",
        ["tenant_id", "dedupe_key"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.create_table(
        "notification_preferences",
        *_audit_columns(),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("mode", sa.String(12), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_notification_preferences_tenant_id", "notification_preferences", ["tenant_id"])
    op.create_index(
        "ux_notification_preferences",
        "notification_preferences",
        ["tenant_id", "user_id", "kind", "channel"],
        unique=True,
    )
    # policies/notifications.sql
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )
    op.add_column("email_outbox", sa.Column("html_body", sa.Text(), nullable=True))
    op.add_column("email_outbox", sa.Column("sender_name", sa.String(200), nullable=True))
    op.add_column("email_outbox", sa.Column("headers", JSONB(), nullable=False, server_default="{}"))
    op.alter_column("email_outbox", "headers", server_default=None)


def downgrade() -> None:
    op.drop_column("email_outbox", "headers")
    op.drop_column("email_outbox", "sender_name")
    op.drop_column("email_outbox", "html_body")
    for table in reversed(TABLES):
        op.drop_table(table)
