"""The processing job: validate the upload, make it playable at once, then plan the chunked ladder.

`process_asset` (the `media.transcode` job) probes the source with ffprobe and:
  * when the video is browser-playable H.264, packages it into HLS by stream copy (cut on the
    source's keyframes; non-AAC audio re-encoded) as the `source` rendition and marks the asset
    playable: seconds of work for an hour of video;
  * writes the poster and the scrubbing sprite (from keyframes only);
  * splits the ladder into time chunks (`media.encode_chunk` jobs, see `ladder.py`) sent to every
    worker. A source that cannot be copied gets its lowest rung first, as a pass of its own, so it
    becomes playable as soon as that rung is joined.

Idempotent: every output has a deterministic key under `t/<tenant>/media/<asset>/`; a re-run
overwrites the same keys; a redelivered job whose plan exists only sends the unfinished chunks again.
"""

from __future__ import annotations

import asyncio
import math
import mimetypes
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import structlog
from sqlalchemy import delete, select

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.faults import is_disk_full
from lms.lib.jobs import enqueue_after_commit
from lms.lib.storage import LocalStorage, Storage, media_prefix
from lms.media.models import AssetStatus, MediaAsset, MediaRendition
from lms.media.services import ffmpeg
from lms.media.tasks import ENCODE_CHUNK

log = structlog.get_logger("lms.media")
T = TypeVar("T")

SOURCE_NAME = "source"
# The stream-copied rendition: watchable first, retired from the master once the ladder is complete.
SOURCE_RENDITION = "source"
CODECS_WITH_AUDIO = "avc1.640028,mp4a.40.2"
CODECS_VIDEO_ONLY = "avc1.640028"
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".json": "application/json",
}
DERIVED_PREFIXES = ("hls/", "chunks/", "thumbs/", "poster.jpg")


class StepTimes(dict[str, float]):
    """Seconds per step of a job, logged with its outcome: where the wait for "playable" went."""

    async def run(self, name: str, step: Awaitable[T]) -> T:
        began = time.monotonic()
        try:
            return await step
        finally:
            self[name] = round(time.monotonic() - began, 3)


class RetryableFailure(Exception):
    """Processing failed for a reason that may pass (storage, database, a crashed encoder)."""


def source_key(tenant_id: UUID, asset_id: UUID) -> str:
    return media_prefix(tenant_id, asset_id) + SOURCE_NAME


def chunk_marker_key(prefix: str, pass_index: int, chunk: int) -> str:
    """Written last by a chunk job: the chunk's segments per rung. Its presence means "done"."""
    return f"{prefix}chunks/p{pass_index}/{chunk:04d}.json"


def content_type_for(key: str) -> str:
    suffix = Path(key).suffix
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def time_limit_for(settings: Settings, seconds: float) -> float:
    return max(120.0, seconds * settings.media_seconds_per_video_second)


async def set_asset(db: Database, tenant_id: UUID, asset_id: UUID, **values: object) -> None:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = await session.get(MediaAsset, asset_id)
        if asset is not None:
            for name, value in values.items():
                setattr(asset, name, value)


async def fail_or_retry(
    db: Database, storage: Storage, tenant_id: UUID, asset_id: UUID, exc: Exception, *, final_attempt: bool
) -> str:
    """What every media job does with an error: invalid media and a full disk fail the asset at
    once, anything else is retried until the last attempt."""
    if isinstance(exc, ffmpeg.InvalidMedia):
        await set_asset(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=str(exc), progress=0)
        return "failed"
    if isinstance(exc, ffmpeg.TimeLimitExceeded):
        await set_asset(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=str(exc))
        return "failed"
    if is_disk_full(exc):
        # Retrying re-encodes into the same full disk: stop now, say why, and free what was written.
        removed = await asyncio.to_thread(remove_outputs, storage, tenant_id, asset_id)
        log.error("media processing stopped: disk full", asset_id=str(asset_id), removed_outputs=removed)
        reason = "no space left to store the transcoded video; upload again or ask an operator to free space"
        await set_asset(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=reason, progress=0)
        return "failed"
    log.warning("media processing failed", asset_id=str(asset_id), error=str(exc), final=final_attempt)
    if final_attempt:
        reason = f"processing failed after retries: {str(exc)[:300]}"
        await set_asset(db, tenant_id, asset_id, status=AssetStatus.FAILED, failure_reason=reason)
        return "failed"
    raise RetryableFailure(str(exc)) from exc


async def process_asset(
    db: Database, storage: Storage, settings: Settings, tenant_id: UUID, asset_id: UUID, *, final_attempt: bool
) -> str:
    """Validate, make playable and plan the ladder for one asset; returns its status after this job.
    Raises RetryableFailure to retry."""
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = await session.get(MediaAsset, asset_id)
        if asset is None:
            return "missing"
        if asset.status in (AssetStatus.READY, AssetStatus.FAILED, AssetStatus.UPLOADING):
            return asset.status.value  # already done, or not uploaded: nothing to do
        planned = "ladder" in (asset.details or {})
        asset.status = AssetStatus.PROCESSING
        asset.attempts += 1
        if not planned:
            asset.progress = 0
    if planned:
        # A redelivered copy of a job that already sent its chunks: send again what is not done.
        return await send_unfinished_chunks(db, storage, tenant_id, asset_id)
    work_root = settings.data_dir / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=work_root, prefix=f"{asset_id}-") as work:
            return await _prepare(db, storage, settings, tenant_id, asset_id, Path(work))
    except Exception as exc:
        status = await fail_or_retry(db, storage, tenant_id, asset_id, exc, final_attempt=final_attempt)
        return status


def remove_outputs(storage: Storage, tenant_id: UUID, asset_id: UUID) -> int:
    """Delete every output of the asset (renditions, thumbnails, poster), keeping the uploaded source."""
    source = source_key(tenant_id, asset_id)
    outputs = [key for key in storage.list_keys(media_prefix(tenant_id, asset_id)) if key != source]
    for key in outputs:
        storage.delete(key)
    return len(outputs)


def local_object(storage: Storage, key: str) -> Path | None:
    """The file behind `key` when storage is a local folder: FFmpeg reads it in place, uncopied."""
    if isinstance(storage, LocalStorage):
        path = (storage.root / key).resolve()
        if path.is_relative_to(storage.root.resolve()) and path.is_file():
            return path
    return None


def local_folder(storage: Storage, prefix: str) -> Path | None:
    """The folder behind a key prefix when storage is a local folder (FFmpeg writes there itself)."""
    if isinstance(storage, LocalStorage):
        path = (storage.root / prefix).resolve()
        if path.is_relative_to(storage.root.resolve()):
            return path
    return None


def remove_derived(storage: Storage, prefix: str) -> None:
    """Outputs of an earlier, unfinished run (captions stay: instructors add them, not the job)."""
    for part in DERIVED_PREFIXES:
        for key in storage.list_keys(prefix + part):
            storage.delete(key)


def upload_tree(storage: Storage, root: Path, prefix: str) -> list[str]:
    """Put every file under `root` at `prefix` + its relative path; playlists last, so a playlist
    never names a segment that is not stored yet."""
    files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: (p.suffix == ".m3u8", str(p)))
    keys = []
    for path in files:
        key = prefix + str(path.relative_to(root))
        storage.put_file(key, path, content_type_for(key))
        keys.append(key)
    return keys


async def _prepare(
    db: Database, storage: Storage, settings: Settings, tenant_id: UUID, asset_id: UUID, work: Path
) -> str:
    prefix = media_prefix(tenant_id, asset_id)
    times = StepTimes()
    began = time.monotonic()
    await times.run("clear", asyncio.to_thread(remove_derived, storage, prefix))
    source = local_object(storage, prefix + SOURCE_NAME)
    if source is None:
        source = work / SOURCE_NAME
        await times.run("download", asyncio.to_thread(storage.download, prefix + SOURCE_NAME, source))
    # The streams' layout first (a header read). The full validation demuxes every packet: the
    # stream copy does that anyway and checks what it read, other sources are probed again.
    info = await times.run("header", ffmpeg.probe(source, count_packets=False))
    limit = time_limit_for(settings, info.duration)
    out = work / "out"
    out.mkdir()
    copied = ffmpeg.copyable(info)
    if copied:
        # Into a local storage folder directly (no second copy of the whole video); no player
        # reads it before its rendition row exists, and a re-run removes it first.
        copy_dir = local_folder(storage, f"{prefix}hls/{SOURCE_RENDITION}/") or out / "hls" / SOURCE_RENDITION
        copy_dir.mkdir(parents=True, exist_ok=True)
        await times.run("copy", ffmpeg.copy_validated(source, copy_dir, info, limit))
    else:
        info = await times.run("validate", ffmpeg.probe(source))
    recording = time.monotonic()
    await set_asset(db, tenant_id, asset_id, duration_seconds=info.duration, width=info.width, height=info.height)
    await asyncio.to_thread(upload_tree, storage, out, prefix)
    if copied:
        # The copy keeps the source's own timing: audio and video may end a little apart.
        ffmpeg.verify_hls(copy_dir / "index.m3u8", info.duration, tolerance=2.0)
        stats = ffmpeg.playlist_stats(copy_dir / "index.m3u8")
        async with tenant_session(db.app_sessions, tenant_id) as session:
            await session.execute(
                delete(MediaRendition).where(
                    MediaRendition.asset_id == asset_id, MediaRendition.name == SOURCE_RENDITION
                )
            )
            session.add(
                MediaRendition(
                    tenant_id=tenant_id,
                    asset_id=asset_id,
                    name=SOURCE_RENDITION,
                    width=info.width,
                    height=info.height,
                    bandwidth=stats.bandwidth,
                    average_bandwidth=stats.average_bandwidth,
                    codecs=ffmpeg.source_codecs(info),
                    playlist_key=f"{prefix}hls/{SOURCE_RENDITION}/index.m3u8",
                )
            )
            asset = (await session.execute(select(MediaAsset).where(MediaAsset.id == asset_id))).scalar_one()
            asset.playable_at = clock.now()
        times["record"] = round(time.monotonic() - recording, 3)
        times["total"] = round(time.monotonic() - began, 3)
        log.info("media playable (stream copy)", asset_id=str(asset_id), duration=info.duration, seconds=times)

    # What nobody needs to start watching comes after: the poster and the scrubbing sprite.
    pictures = work / "pictures"
    (pictures / "thumbs").mkdir(parents=True)
    await asyncio.gather(
        ffmpeg.extract_poster(source, pictures / "poster.jpg", info),
        ffmpeg.run_quietly(ffmpeg.keyframe_sprite_command(source, pictures, info), limit),
    )
    (pictures / "thumbs" / "thumbnails.vtt").write_text(ffmpeg.sprite_index(info, lambda n: f"sprite_{n:03d}.jpg"))
    await asyncio.to_thread(upload_tree, storage, pictures, prefix)

    plan = ladder_plan(info, copied, settings.media_chunk_seconds)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = (await session.execute(select(MediaAsset).where(MediaAsset.id == asset_id))).scalar_one()
        asset.details = {
            "sprite_interval": ffmpeg.sprite_interval(info.duration),
            "has_audio": info.has_audio,
            "source_format": info.format_name,
            "source_codec": info.video_codec,
            "ladder": plan,
        }
        # Sent once this commits: a chunk job always finds the plan.
        for pass_index in range(len(plan["passes"])):
            for chunk in range(plan["chunks"]):
                enqueue_after_commit(session, ENCODE_CHUNK, str(tenant_id), str(asset_id), pass_index, chunk)
    log.info("media ladder planned", asset_id=str(asset_id), chunks=plan["chunks"], passes=plan["passes"])
    return "processing"


def ladder_plan(info: ffmpeg.Probe, copied: bool, chunk_seconds: int) -> dict[str, Any]:
    """Chunks on the 6-second keyframe grid; rungs in passes (the lowest alone first when nothing
    is playable yet)."""
    seconds = max(ffmpeg.SEGMENT_SECONDS, chunk_seconds - chunk_seconds % ffmpeg.SEGMENT_SECONDS)
    names = [rung.name for rung in sorted(ffmpeg.ladder_for(info.height), key=lambda r: r.height)]
    passes = [names] if copied or len(names) == 1 else [names[:1], names[1:]]
    return {
        "chunk_seconds": seconds,
        # A tail under a second joins the chunk before it rather than making a chunk of its own.
        "chunks": max(1, math.ceil((info.duration - 1.0) / seconds)),
        "passes": passes,
        "joined": [],
    }


async def send_unfinished_chunks(db: Database, storage: Storage, tenant_id: UUID, asset_id: UUID) -> str:
    prefix = media_prefix(tenant_id, asset_id)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = (await session.execute(select(MediaAsset).where(MediaAsset.id == asset_id))).scalar_one()
        plan = asset.details["ladder"]
        for pass_index in range(len(plan["passes"])):
            if pass_index in plan["joined"]:
                continue
            for chunk in range(plan["chunks"]):
                marker = chunk_marker_key(prefix, pass_index, chunk)
                if not await asyncio.to_thread(storage.exists, marker):
                    enqueue_after_commit(session, ENCODE_CHUNK, str(tenant_id), str(asset_id), pass_index, chunk)
    return "processing"


def ffmpeg_codecs(info: ffmpeg.Probe) -> str:
    return CODECS_WITH_AUDIO if info.has_audio else CODECS_VIDEO_ONLY
