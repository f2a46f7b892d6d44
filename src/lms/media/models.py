"""Media assets, their resumable uploads, HLS renditions, captions and playback quality events."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Computed, DateTime, Enum, Float, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, JsonDict, TenantScoped


class AssetStatus(enum.StrEnum):
    UPLOADING = "uploading"
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class UploadStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    ABORTED = "aborted"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class MediaAsset(TenantScoped, Base):
    """A video of one tenant: its source upload, processing state and what playback needs."""

    __tablename__ = "media_assets"
    __usage_label__ = "media assets"
    __tenant_table_args__ = (
        ForeignKeyConstraint(["tenant_id", "uploaded_by"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"),
    )

    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[AssetStatus] = mapped_column(_enum(AssetStatus, "media_asset_status"), default=AssetStatus.UPLOADING)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    uploaded_by: Mapped[UUID]
    source_filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    # Sprite geometry and other facts read at processing time.
    details: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Set when a first rendition (the stream-copied source, or the lowest rung) can be watched,
    # usually long before the whole ladder is `ready`.
    playable_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    @property
    def playable(self) -> bool:
        return self.status is AssetStatus.READY or (
            self.playable_at is not None and self.status is AssetStatus.PROCESSING
        )


class MediaUpload(TenantScoped, Base):
    """One resumable (multipart) upload of an asset's source file."""

    __tablename__ = "media_uploads"
    __tenant_table_args__ = (
        Index("ix_media_uploads_status_expires", "status", "expires_at"),
        ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
        ),
    )

    asset_id: Mapped[UUID]
    object_key: Mapped[str] = mapped_column(String(400))
    storage_upload_id: Mapped[str] = mapped_column(String(1024))
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[UploadStatus] = mapped_column(_enum(UploadStatus, "media_upload_status"), default=UploadStatus.OPEN)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    @property
    def part_count(self) -> int:
        return max(1, -(-self.total_bytes // self.part_size))

    def expected_part_size(self, number: int) -> int:
        if number < self.part_count:
            return self.part_size
        return self.total_bytes - self.part_size * (self.part_count - 1)


class MediaRendition(TenantScoped, Base):
    """One rung of an asset's HLS ladder (e.g. 720p)."""

    __tablename__ = "media_renditions"
    __tenant_table_args__ = (
        Index("ux_media_renditions_asset_name", "tenant_id", "asset_id", "name", unique=True),
        ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
        ),
    )

    asset_id: Mapped[UUID]
    name: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bandwidth: Mapped[int] = mapped_column(Integer)
    average_bandwidth: Mapped[int] = mapped_column(Integer)
    codecs: Mapped[str] = mapped_column(String(64))
    playlist_key: Mapped[str] = mapped_column(String(400))


class MediaCaption(TenantScoped, Base):
    """A WebVTT caption track of an asset, one per language."""

    __tablename__ = "media_captions"
    __tenant_table_args__ = (
        Index("ux_media_captions_asset_language", "tenant_id", "asset_id", "language", unique=True),
        ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
        ),
    )

    asset_id: Mapped[UUID]
    language: Mapped[str] = mapped_column(String(35))
    label: Mapped[str] = mapped_column(String(100))
    object_key: Mapped[str] = mapped_column(String(400))


class PlaybackEvent(TenantScoped, Base):
    """A quality beacon from a player: time to first frame, a stall, a rendition switch, a heartbeat."""

    __tablename__ = "media_playback_events"
    __tenant_table_args__ = (
        Index("ix_media_playback_events_session", "tenant_id", "session_id"),
        Index("ix_media_playback_events_asset_user", "tenant_id", "asset_id", "user_id", "created_at"),
        ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    asset_id: Mapped[UUID]
    user_id: Mapped[UUID]
    session_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    value_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    position_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    rendition: Mapped[str | None] = mapped_column(String(16), default=None)


class TranscriptCue(TenantScoped, Base):
    """One cue of an asset's caption track, as text a learner can read, click and search."""

    __tablename__ = "media_transcript_cues"
    __tenant_table_args__ = (
        Index("ux_media_transcript_cues_position", "tenant_id", "asset_id", "language", "position", unique=True),
        Index("ix_media_transcript_cues_search", "search_vector", postgresql_using="gin"),
        ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["media_assets.tenant_id", "media_assets.id"], ondelete="CASCADE"
        ),
    )

    asset_id: Mapped[UUID]
    language: Mapped[str] = mapped_column(String(35))
    position: Mapped[int] = mapped_column(Integer)
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', text)", persisted=True), default=None
    )
