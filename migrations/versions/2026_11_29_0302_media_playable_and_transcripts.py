"""Media: when an asset first became playable, and caption cues as a searchable transcript.

Revision ID: 0302
Revises: 0301
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0302"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("media_assets", sa.Column("playable_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "media_transcript_cues",
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("asset_id", GUID(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', text)", persisted=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_media_transcript_cues_tenant_id", "media_transcript_cues", ["tenant_id"])
    op.create_index(
        "ux_media_transcript_cues_position",
        "media_transcript_cues",
        ["tenant_id", "asset_id", "language", "position"],
        unique=True,
    )
    op.create_index(
        "ix_media_transcript_cues_search", "media_transcript_cues", ["search_vector"], postgresql_using="gin"
    )
    # policies/media.sql
    op.execute("ALTER TABLE media_transcript_cues ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE media_transcript_cues FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON media_transcript_cues "
        "USING (tenant_id = (select app.current_tenant())) "
        "WITH CHECK (tenant_id = (select app.current_tenant()))"
    )


def downgrade() -> None:
    op.drop_table("media_transcript_cues")
    op.drop_column("media_assets", "playable_at")
