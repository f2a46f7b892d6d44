"""Media rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.media.models import (
    AssetStatus,
    MediaAsset,
    MediaCaption,
    MediaRendition,
    MediaUpload,
    PlaybackEvent,
    TranscriptCue,
    UploadStatus,
)
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("media_assets")
async def make_asset(session: AsyncSession, tenant_id: UUID, **fields: Any) -> MediaAsset:
    if "uploaded_by" not in fields:
        fields["uploaded_by"] = (await make_user(session, tenant_id, roles=["instructor"])).id
    values: dict[str, Any] = {
        "title": "Welcome video",
        "source_filename": "welcome.mp4",
        "size_bytes": 1024,
        "status": AssetStatus.UPLOADING,
        "details": {},
    }
    values.update(fields)
    return await add(session, MediaAsset(tenant_id=tenant_id, **values))


@row_factory("media_uploads")
async def make_upload(session: AsyncSession, tenant_id: UUID) -> MediaUpload:
    asset = await make_asset(session, tenant_id)
    return await add(
        session,
        MediaUpload(
            tenant_id=tenant_id,
            asset_id=asset.id,
            object_key=f"t/{tenant_id}/media/{asset.id}/source",
            storage_upload_id=uuid.uuid4().hex,
            total_bytes=1024,
            part_size=1024,
            status=UploadStatus.OPEN,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        ),
    )


@row_factory("media_renditions")
async def make_rendition(session: AsyncSession, tenant_id: UUID) -> MediaRendition:
    asset = await make_asset(session, tenant_id)
    return await add(
        session,
        MediaRendition(
            tenant_id=tenant_id,
            asset_id=asset.id,
            name="360p",
            width=640,
            height=360,
            bandwidth=900_000,
            average_bandwidth=800_000,
            codecs="avc1.640028,mp4a.40.2",
            playlist_key=f"t/{tenant_id}/media/{asset.id}/hls/360p/index.m3u8",
        ),
    )


@row_factory("media_captions")
async def make_caption(session: AsyncSession, tenant_id: UUID) -> MediaCaption:
    asset = await make_asset(session, tenant_id)
    return await add(
        session,
        MediaCaption(
            tenant_id=tenant_id,
            asset_id=asset.id,
            language="en",
            label="English",
            object_key=f"t/{tenant_id}/media/{asset.id}/captions/en.vtt",
        ),
    )


@row_factory("media_playback_events")
async def make_playback_event(session: AsyncSession, tenant_id: UUID) -> PlaybackEvent:
    asset = await make_asset(session, tenant_id)
    return await add(
        session,
        PlaybackEvent(
            tenant_id=tenant_id,
            asset_id=asset.id,
            user_id=asset.uploaded_by,
            session_id=uuid.uuid4().hex,
            kind="ttff",
            value_ms=420,
        ),
    )


@row_factory("media_transcript_cues")
async def make_transcript_cue(session: AsyncSession, tenant_id: UUID) -> TranscriptCue:
    asset = await make_asset(session, tenant_id)
    return await add(
        session,
        TranscriptCue(
            tenant_id=tenant_id,
            asset_id=asset.id,
            language="en",
            position=0,
            start_seconds=0.0,
            end_seconds=4.5,
            text="Welcome to the lecture on data privacy.",
        ),
    )
