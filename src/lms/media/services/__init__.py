"""Media services: resumable uploads, assets and captions, playback beacons, abandoned-upload cleanup."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings
from lms.db.binding import release_connection, tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, TooLarge, ValidationFailed
from lms.lib.jobs import enqueue_after_commit
from lms.lib.lookup import get_or_404
from lms.lib.pagination import count_and_fetch
from lms.lib.storage import Storage, StorageError, media_prefix, storage_for
from lms.media.models import (
    AssetStatus,
    MediaAsset,
    MediaCaption,
    MediaRendition,
    MediaUpload,
    PlaybackEvent,
    UploadStatus,
)
from lms.media.schemas import PlaybackBeacons, PlaybackSessionSummary, UploadCreate
from lms.media.services import transcripts
from lms.media.services.pipeline import source_key
from lms.media.tasks import TRANSCODE

UPLOAD_LIFETIME = timedelta(hours=24)
PRESIGN_SECONDS = 3600
MAX_CAPTION_BYTES = 2 * 1024 * 1024


async def tenant_upload_limit(session: AsyncSession, tenant_id: UUID, default: int) -> int:
    """The tenant's own cap (`media_max_upload_bytes` in its settings), never above the platform's."""
    value = (
        await session.execute(
            text("select settings->>'media_max_upload_bytes' from tenants where id = :id"), {"id": tenant_id}
        )
    ).scalar()
    return min(default, int(value)) if value and str(value).isdigit() else default


_WRONG_PART_SIZE = "part %(number)s must be %(expected)s bytes, got %(got)s"


class UploadService:
    """Resumable multipart uploads of video sources, one per asset."""

    def __init__(self, session: AsyncSession, storage: Storage, settings: Settings, tenant_id: UUID) -> None:
        self.session = session
        self.storage = storage
        self.settings = settings
        self.tenant_id = tenant_id

    async def create(self, data: UploadCreate, user_id: UUID) -> MediaUpload:
        limit = await tenant_upload_limit(self.session, self.tenant_id, self.settings.media_max_upload_bytes)
        if data.size_bytes > limit:
            raise TooLarge(
                "the file is %(size)s bytes; this site accepts at most %(limit)s",
                field="size_bytes",
                values={"size": data.size_bytes, "limit": limit},
            )
        part_size = max(data.part_size, self.storage.min_part_size)
        if -(-data.size_bytes // part_size) > 10_000:
            raise ValidationFailed("too many parts: use a larger part_size (at most 10000 parts)", field="part_size")
        asset = MediaAsset(
            tenant_id=self.tenant_id,
            title=data.title,
            uploaded_by=user_id,
            source_filename=data.filename,
            size_bytes=data.size_bytes,
            status=AssetStatus.UPLOADING,
            details={},
        )
        self.session.add(asset)
        await self.session.flush()
        key = source_key(self.tenant_id, asset.id)
        upload = MediaUpload(
            tenant_id=self.tenant_id,
            asset_id=asset.id,
            object_key=key,
            storage_upload_id=await asyncio.to_thread(self.storage.create_multipart, key, data.content_type),
            total_bytes=data.size_bytes,
            part_size=part_size,
            status=UploadStatus.OPEN,
            expires_at=clock.now() + UPLOAD_LIFETIME,
        )
        self.session.add(upload)
        await self.session.flush()
        return upload

    async def get(self, upload_id: UUID) -> MediaUpload:
        upload = await get_or_404(self.session, MediaUpload, upload_id, "no such upload")
        return upload

    async def _open(self, upload_id: UUID) -> MediaUpload:
        upload = await self.get(upload_id)
        if upload.status is not UploadStatus.OPEN:
            raise Conflict(f"this upload is {upload.status.value}")
        if upload.expires_at < clock.now():
            raise Conflict("this upload has expired; start a new one")
        return upload

    def received(self, upload: MediaUpload) -> dict[int, int]:
        """Part number -> bytes, for parts the storage already holds (the source of truth for resuming)."""
        if upload.status is not UploadStatus.OPEN:
            return {}
        try:
            parts = self.storage.list_parts(upload.object_key, upload.storage_upload_id)
        except StorageError:
            return {}
        return {p.number: p.size for p in parts if p.size == upload.expected_part_size(p.number)}

    def part_url(self, upload: MediaUpload, number: int) -> str:
        presigned = self.storage.presign_part(upload.object_key, upload.storage_upload_id, number, PRESIGN_SECONDS)
        return presigned or f"/api/v1/media/uploads/{upload.id}/parts/{number}"

    async def put_part(self, upload_id: UUID, number: int, data: bytes) -> tuple[MediaUpload, dict[int, int]]:
        upload = await self._open(upload_id)
        if not 1 <= number <= upload.part_count:
            raise ValidationFailed(
                "part number must be between 1 and %(count)s", field="number", values={"count": upload.part_count}
            )
        expected = upload.expected_part_size(number)
        if len(data) > expected:
            raise TooLarge(
                _WRONG_PART_SIZE, field="body", values={"number": number, "expected": expected, "got": len(data)}
            )
        if len(data) != expected:
            # A short part is what a dropped connection leaves: refuse it, the client sends it again.
            raise ValidationFailed(
                _WRONG_PART_SIZE, field="body", values={"number": number, "expected": expected, "got": len(data)}
            )
        await release_connection(self.session)  # the part travels to storage with no connection held
        await asyncio.to_thread(self.storage.upload_part, upload.object_key, upload.storage_upload_id, number, data)
        return upload, await asyncio.to_thread(self.received, upload)

    async def complete(self, upload_id: UUID) -> MediaAsset:
        upload = await self._open(upload_id)
        await release_connection(self.session)  # assembling the file needs no database connection
        received = await asyncio.to_thread(self.received, upload)
        missing = [n for n in range(1, upload.part_count + 1) if n not in received]
        if missing:
            shown = ", ".join(map(str, missing[:20]))
            raise Conflict("parts missing: %(parts)s", values={"parts": shown})
        parts = await asyncio.to_thread(self.storage.list_parts, upload.object_key, upload.storage_upload_id)
        # Assembling several GB takes a while: keep the event loop serving other requests.
        await asyncio.to_thread(self.storage.complete_multipart, upload.object_key, upload.storage_upload_id, parts)
        if await asyncio.to_thread(self.storage.size, upload.object_key) != upload.total_bytes:
            raise Conflict("the assembled file does not have the announced size")
        upload.status = UploadStatus.COMPLETED
        asset = await self.session.get(MediaAsset, upload.asset_id)
        assert asset is not None
        asset.status = AssetStatus.QUEUED
        enqueue_after_commit(self.session, TRANSCODE, str(self.tenant_id), str(asset.id))
        await self.session.flush()
        return asset

    async def abort(self, upload_id: UUID) -> MediaUpload:
        upload = await self._open(upload_id)
        await release_connection(self.session)
        await asyncio.to_thread(self.storage.abort_multipart, upload.object_key, upload.storage_upload_id)
        upload.status = UploadStatus.ABORTED
        asset = await self.session.get(MediaAsset, upload.asset_id)
        if asset is not None:
            asset.status = AssetStatus.FAILED
            asset.failure_reason = "the upload was cancelled"
        await self.session.flush()
        return upload


async def expire_abandoned_uploads(db: Database, storage: Storage, now: datetime | None = None) -> int:
    """Abort open uploads past their expiry in every tenant, freeing the stored parts."""
    now = now or clock.now()
    # The operator role reads across tenants (audited path); each change is made as the tenant.
    async with db.operator_sessions() as session:
        rows = (
            await session.execute(
                select(MediaUpload.tenant_id, MediaUpload.id).where(
                    MediaUpload.status == UploadStatus.OPEN, MediaUpload.expires_at < now
                )
            )
        ).all()
    for tenant_id, upload_id in rows:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            upload = await session.get(MediaUpload, upload_id)
            if upload is None or upload.status is not UploadStatus.OPEN:
                continue
            storage.abort_multipart(upload.object_key, upload.storage_upload_id)
            upload.status = UploadStatus.ABORTED
            asset = await session.get(MediaAsset, upload.asset_id)
            if asset is not None:
                asset.status = AssetStatus.FAILED
                asset.failure_reason = "the upload was abandoned before it completed"
    return len(rows)


class AssetService:
    """Assets of the current tenant and their caption tracks."""

    def __init__(self, session: AsyncSession, storage: Storage) -> None:
        self.session = session
        self.storage = storage

    async def get(self, asset_id: UUID) -> MediaAsset:
        asset = await get_or_404(self.session, MediaAsset, asset_id, "no such media asset")
        return asset

    async def find(self, asset_id: UUID) -> MediaAsset | None:
        """The asset, or None when this tenant has none by that id."""
        return await self.session.get(MediaAsset, asset_id)

    async def renditions(self, asset_id: UUID) -> list[MediaRendition]:
        """The asset's HLS rungs, highest first."""
        rows = await self.session.scalars(
            select(MediaRendition).where(MediaRendition.asset_id == asset_id).order_by(MediaRendition.height.desc())
        )
        return list(rows)

    async def list_assets(self, limit: int, offset: int, status: AssetStatus | None) -> tuple[list[MediaAsset], int]:
        query = select(MediaAsset)
        if status is not None:
            query = query.where(MediaAsset.status == status)
        return await count_and_fetch(self.session, query.order_by(MediaAsset.created_at.desc()), limit, offset)

    async def captions(self, asset_id: UUID) -> list[MediaCaption]:
        rows = await self.session.execute(
            select(MediaCaption).where(MediaCaption.asset_id == asset_id).order_by(MediaCaption.language)
        )
        return list(rows.scalars())

    async def put_caption(self, asset_id: UUID, language: str, label: str, body: bytes) -> MediaCaption:
        asset = await self.get(asset_id)
        if len(body) > MAX_CAPTION_BYTES:
            raise TooLarge(
                "caption files are limited to %(limit)s bytes", field="body", values={"limit": MAX_CAPTION_BYTES}
            )
        try:
            vtt = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("captions must be UTF-8 WebVTT", field="body") from exc
        if not vtt.startswith("WEBVTT") or "-->" not in vtt:
            raise ValidationFailed("not a WebVTT file (it must start with WEBVTT and contain cues)", field="body")
        key = f"{media_prefix(asset.tenant_id, asset.id)}captions/{language}.vtt"
        existing = (
            await self.session.execute(
                select(MediaCaption).where(MediaCaption.asset_id == asset_id, MediaCaption.language == language)
            )
        ).scalar_one_or_none()
        self.storage.put_bytes(key, vtt.encode(), "text/vtt")
        if existing is None:
            existing = MediaCaption(
                tenant_id=asset.tenant_id, asset_id=asset.id, language=language, label=label, object_key=key
            )
            self.session.add(existing)
        else:
            existing.label = label
        await self.session.flush()
        # The cues become the transcript beside the player and what catalogue search matches.
        await transcripts.replace_transcript(self.session, asset.tenant_id, asset.id, language, vtt)
        return existing

    async def caption(self, asset_id: UUID, language: str) -> tuple[MediaCaption, str]:
        """A caption track of the asset and its WebVTT text (to edit it)."""
        await self.get(asset_id)
        caption = (
            await self.session.execute(
                select(MediaCaption).where(MediaCaption.asset_id == asset_id, MediaCaption.language == language)
            )
        ).scalar_one_or_none()
        if caption is None:
            raise NotFound("no caption track in this language", field="language")
        body = await asyncio.to_thread(self.storage.get_bytes, caption.object_key)
        return caption, body.decode("utf-8-sig")

    async def delete_caption(self, asset_id: UUID, language: str) -> None:
        caption = (
            await self.session.execute(
                select(MediaCaption).where(MediaCaption.asset_id == asset_id, MediaCaption.language == language)
            )
        ).scalar_one_or_none()
        if caption is None:
            raise NotFound("no caption track in this language", field="language")
        self.storage.delete(caption.object_key)
        await transcripts.delete_transcript(self.session, asset_id, language)
        await self.session.delete(caption)


class PlaybackEventService:
    """Quality beacons from players (time to first frame, stalls, switches, heartbeats), per session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, tenant_id: UUID, asset_id: UUID, user_id: UUID, data: PlaybackBeacons) -> int:
        for event in data.events:
            self.session.add(
                PlaybackEvent(
                    tenant_id=tenant_id,
                    asset_id=asset_id,
                    user_id=user_id,
                    session_id=data.session_id,
                    kind=event.kind,
                    value_ms=event.value_ms,
                    position_seconds=event.position_seconds,
                    rendition=event.rendition,
                )
            )
        await self.session.flush()
        return len(data.events)

    async def last_position(self, asset_id: UUID, user_id: UUID) -> float:
        """Where this user last was in the video (from the player's heartbeats)."""
        value = (
            await self.session.execute(
                select(PlaybackEvent.position_seconds)
                .where(
                    PlaybackEvent.asset_id == asset_id,
                    PlaybackEvent.user_id == user_id,
                    PlaybackEvent.position_seconds.is_not(None),
                    PlaybackEvent.kind.in_(("heartbeat", "ended")),
                )
                .order_by(PlaybackEvent.created_at.desc(), PlaybackEvent.id.desc())
                .limit(1)
            )
        ).scalar()
        return float(value or 0.0)

    async def sessions(self, asset_id: UUID) -> list[PlaybackSessionSummary]:
        rows = await self.session.execute(
            select(PlaybackEvent)
            .where(PlaybackEvent.asset_id == asset_id)
            .order_by(PlaybackEvent.session_id, PlaybackEvent.created_at)
        )
        grouped: dict[str, list[PlaybackEvent]] = defaultdict(list)
        for event in rows.scalars():
            grouped[event.session_id].append(event)
        summaries = []
        for session_id, events in grouped.items():
            ttff = next((e.value_ms for e in events if e.kind == "ttff"), None)
            stalls = [e for e in events if e.kind == "stall"]
            positions = [e.position_seconds for e in events if e.position_seconds is not None]
            summaries.append(
                PlaybackSessionSummary(
                    session_id=session_id,
                    user_id=events[0].user_id,
                    time_to_first_frame_ms=ttff,
                    stalls=len(stalls),
                    stalled_ms=sum(e.value_ms or 0 for e in stalls),
                    switches=sum(1 for e in events if e.kind == "switch"),
                    renditions=sorted({e.rendition for e in events if e.rendition}),
                    last_position_seconds=positions[-1] if positions else None,
                )
            )
        return summaries


def app_storage(state: Any, settings: Settings) -> Storage:
    """One storage client per app, built on first use from STORAGE_URL (routes and pages share it)."""
    if getattr(state, "media_storage", None) is None:
        state.media_storage = storage_for(settings)
    storage: Storage = state.media_storage
    return storage
