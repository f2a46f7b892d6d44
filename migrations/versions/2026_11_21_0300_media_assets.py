"""Media: assets, resumable uploads, HLS renditions, captions, playback quality events.

Revision ID: 0300
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0300"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = ("media",)
depends_on: str | Sequence[str] | None = None

ASSET_STATUS = postgresql.ENUM(
    "uploading", "queued", "processing", "ready", "failed", name="media_asset_status", create_type=False
)
UPLOAD_STATUS = postgresql.ENUM("open", "completed", "aborted", name="media_upload_status", create_type=False)
TABLES = ("media_assets", "media_uploads", "media_renditions", "media_captions", "media_playback_events")


def _base_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("tenant_id", GUID(), sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    ]


def _asset_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
    )


def upgrade() -> None:
    ASSET_STATUS.create(op.get_bind(), checkfirst=True)
    UPLOAD_STATUS.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "media_assets",
        *_base_columns(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", ASSET_STATUS, nullable=False, server_default="uploading"),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("uploaded_by", GUID(), nullable=False),
        sa.Column("source_filename", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "uploaded_by"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"),
    )
    op.create_index("ix_media_assets_tenant_id", "media_assets", ["tenant_id"])
    op.create_index("ux_media_assets_tenant_id_id", "media_assets", ["tenant_id", "id"], unique=True)

    op.create_table(
        "media_uploads",
        *_base_columns(),
        sa.Column("asset_id", GUID(), nullable=False),
        sa.Column("object_key", sa.String(400), nullable=False),
        sa.Column("storage_upload_id", sa.String(1024), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.Integer(), nullable=False),
        sa.Column("status", UPLOAD_STATUS, nullable=False, server_default="open"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _asset_fk(),
    )
    op.create_index("ix_media_uploads_tenant_id", "media_uploads", ["tenant_id"])
    op.create_index("ux_media_uploads_tenant_id_id", "media_uploads", ["tenant_id", "id"], unique=True)
    op.create_index("ix_media_uploads_status_expires", "media_uploads", ["status", "expires_at"])

    op.create_table(
        "media_renditions",
        *_base_columns(),
        sa.Column("asset_id", GUID(), nullable=False),
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bandwidth", sa.Integer(), nullable=False),
        sa.Column("average_bandwidth", sa.Integer(), nullable=False),
        sa.Column("codecs", sa.String(64), nullable=False),
        sa.Column("playlist_key", sa.String(400), nullable=False),
        _asset_fk(),
    )
    op.create_index("ix_media_renditions_tenant_id", "media_renditions", ["tenant_id"])
    op.create_index(
        "ux_media_renditions_asset_name", "media_renditions", ["tenant_id", "asset_id", "name"], unique=True
    )

    op.create_table(
        "media_captions",
        *_base_columns(),
        sa.Column("asset_id", GUID(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("object_key", sa.String(400), nullable=False),
        _asset_fk(),
    )
    op.create_index("ix_media_captions_tenant_id", "media_captions", ["tenant_id"])
    op.create_index(
        "ux_media_captions_asset_language", "media_captions", ["tenant_id", "asset_id", "language"], unique=True
    )

    op.create_table(
        "media_playback_events",
        *_base_columns(),
        sa.Column("asset_id", GUID(), nullable=False),
        sa.Column("user_id", GUID(), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value_ms", sa.Integer(), nullable=True),
        sa.Column("position_seconds", sa.Float(), nullable=True),
        sa.Column("rendition", sa.String(16), nullable=True),
        _asset_fk(),
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_media_playback_events_tenant_id", "media_playback_events", ["tenant_id"])
    op.create_index("ix_media_playback_events_session", "media_playback_events", ["tenant_id", "session_id"])
    op.create_index(
        "ix_media_playback_events_asset_user",
        "media_playback_events",
        ["tenant_id", "asset_id", "user_id", "created_at"],
    )

    # policies/media.sql
    for table in TABLES:
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
    UPLOAD_STATUS.drop(op.get_bind(), checkfirst=True)
    ASSET_STATUS.drop(op.get_bind(), checkfirst=True)
