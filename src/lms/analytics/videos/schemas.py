"""Video analytics as JSON: the watch-through curve per bucket and the playback quality."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class VideoBucketOut(msgspec.Struct):
    bucket: int
    start_seconds: float
    viewers: int
    views: float
    rewatches: float
    stops: int


class VideoQualityOut(msgspec.Struct):
    sessions: int
    time_to_first_frame_p50_ms: int | None
    time_to_first_frame_p90_ms: int | None
    time_to_first_frame_p95_ms: int | None
    stalls: int
    stalls_per_session: float
    stalled_ms_per_session: float
    errors: int
    rendition_switches: int
    played_to_end: int


class VideoAnalyticsOut(msgspec.Struct):
    course_id: UUID
    lesson_id: UUID
    title: str
    duration_seconds: float
    viewers: int
    buckets: list[VideoBucketOut]
    quality: VideoQualityOut | None
    refreshed_to: datetime | None
