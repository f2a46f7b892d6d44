"""Video rollups, maintained incrementally by the analytics worker from the folded progress events
(heartbeats with the ranges played) and the players' quality beacons. Pages read only these.

A video is cut into `BUCKETS` equal parts of its length, so every curve has the same resolution."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, SmallInteger
from sqlalchemy.dialects.postgresql import ARRAY, BIT
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from lms.db.base import Base, TenantScoped

BUCKETS = 100
# Time-to-first-frame histogram: 100 ms bins up to 10 s, the last bin holds everything slower.
TTFF_BIN_MS = 100
TTFF_BINS = 101


class TenantKeyed:
    """(tenant_id, id) as the primary key, so each table is distributable by tenant from the start."""

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:
        return mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True)


class VideoBucket(TenantKeyed, TenantScoped, Base):
    """One hundredth of a video lesson: viewers who played it, the time played in it (re-watches included),
    and viewers whose last known position is in it (where they stopped)."""

    __tablename__ = "analytics_video_buckets"
    __tenant_table_args__ = (Index("ux_analytics_video_buckets_key", "tenant_id", "lesson_id", "bucket", unique=True),)

    course_id: Mapped[UUID] = mapped_column(GUID())
    lesson_id: Mapped[UUID] = mapped_column(GUID())
    bucket: Mapped[int] = mapped_column(SmallInteger)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds played in the bucket by all viewers (re-watches included), in milliseconds.
    played_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    stops: Mapped[int] = mapped_column(Integer, default=0)


class VideoViewer(TenantKeyed, TenantScoped, Base):
    """One viewer of one video lesson: the buckets they have played (a bit each) and the bucket of
    their latest position. The worker's memory, so a new heartbeat counts a viewer at most once."""

    __tablename__ = "analytics_video_viewers"
    __tenant_table_args__ = (Index("ux_analytics_video_viewers_key", "tenant_id", "lesson_id", "user_id", unique=True),)

    course_id: Mapped[UUID] = mapped_column(GUID())
    lesson_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    seen: Mapped[str] = mapped_column(BIT(BUCKETS))
    stop_bucket: Mapped[int] = mapped_column(SmallInteger)
    position_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VideoQuality(TenantKeyed, TenantScoped, Base):
    """Playback quality of one video (media asset), summed over its players' sessions."""

    __tablename__ = "analytics_video_quality"
    __tenant_table_args__ = (Index("ux_analytics_video_quality_asset", "tenant_id", "asset_id", unique=True),)

    asset_id: Mapped[UUID] = mapped_column(GUID())
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    ttff_bins: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=lambda: [0] * TTFF_BINS)
    stalls: Mapped[int] = mapped_column(Integer, default=0)
    stalled_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    switches: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[int] = mapped_column(Integer, default=0)


class VideoRollupMark(TenantKeyed, TenantScoped, Base):
    """Up to which event ids (UUIDv7, so in time order) a tenant's video rollups have counted."""

    __tablename__ = "analytics_video_marks"
    __tenant_table_args__ = (Index("ux_analytics_video_marks_tenant", "tenant_id", unique=True),)

    refreshed_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
