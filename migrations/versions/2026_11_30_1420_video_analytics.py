"""Video analytics rollups: per video lesson and bucket, per viewer, playback quality per video, and
each tenant's mark.

Revision ID: 1420
Revises: 1100
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, BIT

revision: str = "1420"
down_revision: str | None = "1100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("analytics_video_buckets", "analytics_video_viewers", "analytics_video_quality", "analytics_video_marks")


def _base_columns(table: str) -> list[Any]:
    return [
        sa.Column("id", GUID(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"{table}_pkey"),
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_video_buckets",
        *_base_columns("analytics_video_buckets"),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("played_ms", sa.BigInteger(), nullable=False),
        sa.Column("stops", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ux_analytics_video_buckets_key", "analytics_video_buckets", ["tenant_id", "lesson_id", "bucket"], unique=True
    )
    op.create_table(
        "analytics_video_viewers",
        *_base_columns("analytics_video_viewers"),
        sa.Column("course_id", GUID(), nullable=False),
        sa.Column("lesson_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("seen", BIT(100), nullable=False),
        sa.Column("stop_bucket", sa.SmallInteger(), nullable=False),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ux_analytics_video_viewers_key", "analytics_video_viewers", ["tenant_id", "lesson_id", "user_id"], unique=True
    )
    op.create_table(
        "analytics_video_quality",
        *_base_columns("analytics_video_quality"),
        sa.Column("asset_id", GUID(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("ttff_bins", ARRAY(sa.Integer()), nullable=False),
        sa.Column("stalls", sa.Integer(), nullable=False),
        sa.Column("stalled_ms", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("switches", sa.Integer(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ux_analytics_video_quality_asset", "analytics_video_quality", ["tenant_id", "asset_id"], unique=True
    )
    op.create_table(
        "analytics_video_marks",
        *_base_columns("analytics_video_marks"),
        sa.Column("refreshed_to", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_analytics_video_marks_tenant", "analytics_video_marks", ["tenant_id"], unique=True)
    # Every refresh rewrites rows of these two in place: room on each page lets PostgreSQL update them
    # without touching their indexes (no indexed column changes).
    for table in ("analytics_video_buckets", "analytics_video_viewers"):
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 60)")
    # policies/analytics.sql
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = (select app.current_tenant())) "
            "WITH CHECK (tenant_id = (select app.current_tenant()))"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
