"""Request and response bodies of the media API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

MiB = 1024 * 1024
MAX_PART_SIZE = 64 * MiB


class UploadCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    size_bytes: Annotated[int, msgspec.Meta(gt=0)]
    content_type: Annotated[str, msgspec.Meta(max_length=100)] = "application/octet-stream"
    # Bytes per part; the server raises it to the storage backend's minimum when smaller.
    part_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_PART_SIZE)] = 8 * MiB


class PartUrl(msgspec.Struct):
    number: int
    size: int
    url: str
    # "PUT": send the raw bytes of the part to `url`.
    method: str = "PUT"


class UploadOut(msgspec.Struct):
    id: UUID
    asset_id: UUID
    status: str
    total_bytes: int
    part_size: int
    part_count: int
    bytes_received: int
    progress: float
    parts_received: list[int]
    # Where each missing part goes: presigned S3 URLs, or the platform's chunk endpoint.
    missing_parts: list[PartUrl]
    expires_at: datetime


class PartOut(msgspec.Struct):
    number: int
    size: int
    bytes_received: int
    progress: float


class RenditionOut(msgspec.Struct):
    name: str
    width: int
    height: int
    bandwidth: int


class CaptionOut(msgspec.Struct):
    language: str
    label: str


class AssetOut(msgspec.Struct):
    id: UUID
    title: str
    status: str
    progress: int
    failure_reason: str | None
    size_bytes: int
    duration_seconds: float | None
    width: int | None
    height: int | None
    attempts: int
    renditions: list[RenditionOut]
    captions: list[CaptionOut]
    created_at: datetime
    ready_at: datetime | None
    # Watchable already (a first rendition is in) while the rest of the ladder is encoded.
    playable: bool = False
    playable_at: datetime | None = None


class PlaybackOut(msgspec.Struct):
    asset_id: UUID
    title: str
    duration_seconds: float
    master_url: str
    poster_url: str
    thumbnails_url: str
    captions: list[CaptionOut]
    resume_position_seconds: float
    expires_at: int


PlaybackKind = Literal["ttff", "stall", "switch", "heartbeat", "error", "ended"]


class PlaybackBeacon(msgspec.Struct, forbid_unknown_fields=True):
    kind: PlaybackKind
    value_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] | None = None
    position_seconds: Annotated[float, msgspec.Meta(ge=0, le=86_400)] | None = None
    rendition: Annotated[str, msgspec.Meta(max_length=16)] | None = None


class PlaybackBeacons(msgspec.Struct, forbid_unknown_fields=True):
    session_id: Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    events: Annotated[list[PlaybackBeacon], msgspec.Meta(min_length=1, max_length=100)]


class PlaybackSessionSummary(msgspec.Struct):
    session_id: str
    user_id: UUID
    time_to_first_frame_ms: int | None
    stalls: int
    stalled_ms: int
    switches: int
    renditions: list[str]
    last_position_seconds: float | None
