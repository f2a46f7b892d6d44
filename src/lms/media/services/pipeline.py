"""The processing job: validate the uploaded source with ffprobe, transcode the HLS ladder, publish.

Idempotent: every output has a deterministic key under `t/<tenant>/media/<asset>/`, a re-run
overwrites the same keys and removes stale ones, and rendition rows are replaced as a whole.
"""

from __future__ import annotations

import asyncio
import mimetypes
import tempfile
import time
from pathlib import Path
from uuid import UUID

import structlog
from sqlalchemy import delete, select

from lms.catalog.services import record_lesson_duration
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.faults import is_disk_full
from lms.lib.storage import Storage, media_prefix
from lms.media.models import AssetStatus, MediaAsset, MediaRendition
from lms.media.services import ffmpeg

log = structlog.get_logger("lms.media")

SOURCE_NAME = "source"
CODECS_WITH_AUDIO = "avc1.640028,mp4a.40.2"
CODECS_VIDEO_ONLY = "avc1.640028"
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
}


class RetryableFailure(Exception):
    """Processing failed for a reason that may pass (storage, database, a crashed encoder)."""


def source_key(tenant_id: UUID, asset_id: UUID) -> str:
    return media_prefix(tenant_id, asset_id) + SOURCE_NAME


def content_type_for(key: str) -> str:
    suffix = Path(key).suffix
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


async def _set(db: Database, tenant_id: UUID, asset_id: UUID, **values: object) -> None:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = await session.get(MediaAsset, asset_id)
        if asset is not None:
            for name, value in values.items():
                setattr(asset, name, value)


async def process_asset(
    db: Database, storage: Storage, settings: Settings, tenant_id: UUID, asset_id: UUID, *, final_attempt: bool
) -> str:
    """Run the whole job for one asset; returns its final status. Raises RetryableFailure to retry."""
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = await session.get(MediaAsset, asset_id)
        if asset is None:
            return "missing"
        if asset.status in (AssetStatus.READY, AssetStatus.FAILED, AssetStatus.UPLOADING):
            return asset.status.value  # already done, or not uploaded: nothing to do
        asset.status = AssetStatus.PROCESSING
        asset.attempts += 1
        asset.progress = 0
    work_root = settings.data_dir / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=work_root, prefix=f"{asset_id}-") as work:
            return await _process_in(db, storage, settings, tenant_id, asset_id, Path(work))
    except ffmpeg.InvalidMedia as exc:
        await _set(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=str(exc), progress=0)
        return "failed"
    except ffmpeg.TimeLimitExceeded as exc:
        await _set(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=str(exc))
        return "failed"
    except Exception as exc:
        if is_disk_full(exc):
            # Retrying re-encodes into the same full disk: stop now, say why, and free what this run wrote.
            removed = await asyncio.to_thread(remove_outputs, storage, tenant_id, asset_id)
            log.error("media processing stopped: disk full", asset_id=str(asset_id), removed_outputs=removed)
            reason = "no space left to store the transcoded video; upload again or ask an operator to free space"
            await _set(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=reason, progress=0)
            return "failed"
        log.warning("media processing failed", asset_id=str(asset_id), error=str(exc), final=final_attempt)
        if final_attempt:
            reason = f"processing failed after retries: {str(exc)[:300]}"
            await _set(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=reason)
            return "failed"
        await _set(db, tenant_id, asset_id, status=AssetStatus.QUEUED)
        raise RetryableFailure(str(exc)) from exc


def remove_outputs(storage: Storage, tenant_id: UUID, asset_id: UUID) -> int:
    """Delete every output of the asset (renditions, thumbnails, poster), keeping the uploaded source."""
    source = source_key(tenant_id, asset_id)
    outputs = [key for key in storage.list_keys(media_prefix(tenant_id, asset_id)) if key != source]
    for key in outputs:
        storage.delete(key)
    return len(outputs)


async def _process_in(
    db: Database, storage: Storage, settings: Settings, tenant_id: UUID, asset_id: UUID, work: Path
) -> str:
    prefix = media_prefix(tenant_id, asset_id)
    source = work / SOURCE_NAME
    storage.download(prefix + SOURCE_NAME, source)
    info = await ffmpeg.probe(source)
    await _set(db, tenant_id, asset_id, duration_seconds=info.duration, width=info.width, height=info.height)

    rungs = ffmpeg.ladder_for(info.height)
    out = work / "out"
    for rung in rungs:
        (out / "hls" / rung.name).mkdir(parents=True, exist_ok=True)
    last_write = 0.0

    async def report(percent: int) -> None:
        nonlocal last_write
        # At most one write a second: progress is for people watching, not an audit trail.
        if time.monotonic() - last_write >= 1.0:
            last_write = time.monotonic()
            await _set(db, tenant_id, asset_id, progress=percent)

    time_limit = max(120.0, info.duration * settings.media_seconds_per_video_second)
    await ffmpeg.run_with_progress(ffmpeg.ladder_command(source, out, info, rungs), info.duration, report, time_limit)
    await ffmpeg.extract_poster(source, out / "poster.jpg", info)
    (out / "thumbs" / "thumbnails.vtt").write_text(ffmpeg.sprite_index(info, lambda n: f"sprite_{n:03d}.jpg"))

    written = set()
    for path in sorted(out.rglob("*")):
        if path.is_file():
            key = prefix + str(path.relative_to(out))
            storage.put_file(key, path, content_type_for(key))
            written.add(key)
    # Outputs of an earlier run that this run did not produce (e.g. a different ladder) go away.
    for stale in storage.list_keys(prefix + "hls/") + storage.list_keys(prefix + "thumbs/"):
        if stale not in written:
            storage.delete(stale)

    codecs = ffmpeg_codecs(info)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = (await session.execute(select(MediaAsset).where(MediaAsset.id == asset_id))).scalar_one()
        await session.execute(delete(MediaRendition).where(MediaRendition.asset_id == asset_id))
        for rung in rungs:
            stats = ffmpeg.playlist_stats(out / "hls" / rung.name / "index.m3u8")
            session.add(
                MediaRendition(
                    tenant_id=tenant_id,
                    asset_id=asset_id,
                    name=rung.name,
                    width=rung.width_for(info.width, info.height),
                    height=rung.height,
                    bandwidth=stats.bandwidth,
                    average_bandwidth=stats.average_bandwidth,
                    codecs=codecs,
                    playlist_key=f"{prefix}hls/{rung.name}/index.m3u8",
                )
            )
        asset.status = AssetStatus.READY
        asset.progress = 100
        asset.failure_reason = None
        asset.ready_at = clock.now()
        asset.details = {
            "sprite_interval": ffmpeg.sprite_interval(info.duration),
            "has_audio": info.has_audio,
            "source_format": info.format_name,
            "source_codec": info.video_codec,
        }
        # The lessons showing this video now carry its real duration.
        await record_lesson_duration(session, tenant_id, asset_id, info.duration)
    log.info("media ready", asset_id=str(asset_id), renditions=[r.name for r in rungs], duration=info.duration)
    return "ready"


def ffmpeg_codecs(info: ffmpeg.Probe) -> str:
    return CODECS_WITH_AUDIO if info.has_audio else CODECS_VIDEO_ONLY
