"""Progress events the fold could not store, kept with their reason for operators.

Revision ID: 0202
Revises: 0201
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0202"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "progress_dead_letters",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("user_id", GUID(), nullable=True),
        sa.Column("stream_entry_id", sa.String(64), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=False),
        sa.Column("raw_event", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_progress_dead_letters_tenant_id", "progress_dead_letters", ["tenant_id"])
    op.create_index(
        "ux_progress_dead_letters_entry",
        "progress_dead_letters",
        ["tenant_id", "stream_entry_id", "event_index"],
        unique=True,
    )
    op.create_index("ix_progress_dead_letters_created", "progress_dead_letters", ["tenant_id", "created_at"])
    # policies/learning.sql
    op.execute("ALTER TABLE progress_dead_letters ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE progress_dead_letters FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON progress_dead_letters "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("progress_dead_letters")
