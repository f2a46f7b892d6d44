"""The chunked ladder: one job per (pass, time chunk) on any worker, then a join per pass.

A chunk job encodes seconds [start, start + chunk) of the source into every rung of its pass, with
keyframes forced on the 6-second grid and timestamps offset to the chunk's place in the video, so
its segments (`hls/<rung>/seg_<chunk>_<n>.ts`) continue the previous chunk's exactly. It uploads the
segments, then a marker (`chunks/p<pass>/<chunk>.json`: each rung's segment durations and sizes).
The marker makes the job idempotent: a redelivered or re-sent job whose marker exists does nothing
but the join check; one that died half-way overwrites the same keys.

The job that finds every marker of its pass present joins that pass under an advisory lock: it
writes each rung's `index.m3u8` from the markers, adds the rungs to the master playlist (as
rendition rows), and the last pass marks the asset ready.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import delete, func, select, update

from lms.catalog.services import record_lesson_duration
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.storage import Storage, media_prefix
from lms.media.models import AssetStatus, MediaAsset, MediaRendition
from lms.media.services import ffmpeg
from lms.media.services.pipeline import (
    SOURCE_NAME,
    SOURCE_RENDITION,
    chunk_marker_key,
    fail_or_retry,
    ffmpeg_codecs,
    local_object,
    time_limit_for,
    upload_tree,
)

log = structlog.get_logger("lms.media")


async def encode_chunk(
    db: Database,
    storage: Storage,
    settings: Settings,
    tenant_id: UUID,
    asset_id: UUID,
    pass_index: int,
    chunk: int,
    *,
    final_attempt: bool,
) -> str:
    """The `media.encode_chunk` job. Raises RetryableFailure to retry."""
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = await session.get(MediaAsset, asset_id)
        if asset is None:
            return "missing"
        if asset.status is not AssetStatus.PROCESSING or "ladder" not in (asset.details or {}):
            return asset.status.value  # failed meanwhile, or already ready: nothing to do
        plan: dict[str, Any] = asset.details["ladder"]
        info = probe_of(asset)
    if pass_index >= len(plan["passes"]) or chunk >= plan["chunks"]:
        return "unknown chunk"
    prefix = media_prefix(tenant_id, asset_id)
    marker = chunk_marker_key(prefix, pass_index, chunk)
    try:
        if not await asyncio.to_thread(storage.exists, marker):
            await _encode(db, storage, settings, tenant_id, asset_id, info, plan, pass_index, chunk)
        await _record_progress(db, storage, tenant_id, asset_id, plan)
        if await asyncio.to_thread(_pass_complete, storage, prefix, plan, pass_index):
            status = await join_pass(db, storage, tenant_id, asset_id, pass_index)
            if status == "ready":
                await asyncio.to_thread(release_cached_source, settings, asset_id)
            return status
    except Exception as exc:
        return await fail_or_retry(db, storage, tenant_id, asset_id, exc, final_attempt=final_attempt)
    return "encoded"


def probe_of(asset: MediaAsset) -> ffmpeg.Probe:
    """What the chunk jobs need of the source, as the preparing job recorded it."""
    return ffmpeg.Probe(
        duration=asset.duration_seconds or 0.0,
        width=asset.width or 2,
        height=asset.height or 2,
        has_audio=bool(asset.details.get("has_audio")),
        format_name=str(asset.details.get("source_format", "")),
        video_codec=str(asset.details.get("source_codec", "")),
    )


def rungs_of(info: ffmpeg.Probe, names: list[str]) -> list[ffmpeg.Rung]:
    by_name = {rung.name: rung for rung in ffmpeg.ladder_for(info.height)}
    return [by_name[name] for name in names]


async def _encode(
    db: Database,
    storage: Storage,
    settings: Settings,
    tenant_id: UUID,
    asset_id: UUID,
    info: ffmpeg.Probe,
    plan: dict[str, Any],
    pass_index: int,
    chunk: int,
) -> None:
    began_at, began = time.time(), time.monotonic()
    prefix = media_prefix(tenant_id, asset_id)
    started = chunk_marker_key(prefix, pass_index, chunk).removesuffix(".json") + ".started"
    if await asyncio.to_thread(storage.exists, started):
        # An earlier run of this chunk never finished (its worker died): count the resumption.
        await _bump_attempts(db, tenant_id, asset_id)
    await asyncio.to_thread(storage.put_bytes, started, b"", "text/plain")
    source = await asyncio.to_thread(cached_source, storage, settings, prefix, asset_id)
    rungs = rungs_of(info, plan["passes"][pass_index])
    seconds = float(plan["chunk_seconds"])
    start = chunk * seconds
    # The last chunk reads to the end of the source, whatever its exact length.
    length = seconds if chunk < plan["chunks"] - 1 else info.duration - start + ffmpeg.SEGMENT_SECONDS
    work_root = settings.data_dir / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root, prefix=f"{asset_id}-c{pass_index}-{chunk}-") as work:
        out = Path(work) / "hls"
        out.mkdir()
        command = ffmpeg.chunk_command(source, out, info, rungs, chunk, start, length)
        encoding = time.monotonic()
        await ffmpeg.run_quietly(command, time_limit_for(settings, seconds), cwd=out)
        storing = time.monotonic()
        expected = seconds if chunk < plan["chunks"] - 1 else info.duration - start
        segments = {}
        for rung in rungs:
            playlist = out / rung.name / f"chunk_{chunk:04d}.m3u8"
            segments[rung.name] = [list(entry) for entry in ffmpeg.verify_hls(playlist, expected)]
            playlist.unlink()
        await asyncio.to_thread(upload_tree, storage, out, prefix + "hls/")
    # Where a chunk's time goes (the encoder, storing its segments, the rest), for operators and the benchmark.
    timing = {
        "began_at": began_at,
        "encode_seconds": round(storing - encoding, 3),
        "store_seconds": round(time.monotonic() - storing, 3),
        "seconds": round(time.monotonic() - began, 3),
    }
    body = json.dumps({"start": start, "segments": segments, "timing": timing}).encode()
    await asyncio.to_thread(storage.put_bytes, chunk_marker_key(prefix, pass_index, chunk), body, "application/json")
    log.info("media chunk encoded", asset_id=str(asset_id), pass_index=pass_index, chunk=chunk, **timing)


def cached_source(storage: Storage, settings: Settings, prefix: str, asset_id: UUID) -> Path:
    """The asset's source on this worker's disk, fetched once for all the chunks this process encodes.

    One source per worker process: another asset's copy (and copies left by dead processes) go.
    A local storage folder is read in place.
    """
    in_place = local_object(storage, prefix + SOURCE_NAME)
    if in_place is not None:
        return in_place
    root = settings.data_dir / "work" / "sources"
    mine = root / str(os.getpid())
    target = mine / str(asset_id) / SOURCE_NAME
    if target.exists():
        return target
    if root.exists():
        for entry in root.iterdir():
            if entry == mine or not entry.name.isdigit() or not _alive(int(entry.name)):
                shutil.rmtree(entry, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    storage.download(prefix + SOURCE_NAME, partial)
    partial.rename(target)
    return target


def release_cached_source(settings: Settings, asset_id: UUID) -> None:
    shutil.rmtree(settings.data_dir / "work" / "sources" / str(os.getpid()) / str(asset_id), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _bump_attempts(db: Database, tenant_id: UUID, asset_id: UUID) -> None:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(
            update(MediaAsset).where(MediaAsset.id == asset_id).values(attempts=MediaAsset.attempts + 1)
        )


def _markers_done(storage: Storage, prefix: str) -> set[str]:
    return {key for key in storage.list_keys(prefix + "chunks/") if key.endswith(".json")}


def _pass_complete(storage: Storage, prefix: str, plan: dict[str, Any], pass_index: int) -> bool:
    done = _markers_done(storage, prefix)
    return all(chunk_marker_key(prefix, pass_index, chunk) in done for chunk in range(plan["chunks"]))


async def _record_progress(
    db: Database, storage: Storage, tenant_id: UUID, asset_id: UUID, plan: dict[str, Any]
) -> None:
    """Per-asset progress: the share of (pass, chunk) jobs done, weighted by the rungs they encode."""
    done = await asyncio.to_thread(_markers_done, storage, media_prefix(tenant_id, asset_id))
    prefix = media_prefix(tenant_id, asset_id)
    total = sum(len(names) * plan["chunks"] for names in plan["passes"])
    finished = sum(
        len(names)
        for pass_index, names in enumerate(plan["passes"])
        for chunk in range(plan["chunks"])
        if chunk_marker_key(prefix, pass_index, chunk) in done
    )
    percent = min(99, int(99 * finished / max(1, total)))
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == asset_id, MediaAsset.status == AssetStatus.PROCESSING)
            .values(progress=func.greatest(MediaAsset.progress, percent))
        )


def media_playlist(entries: list[tuple[float, str]]) -> str:
    """A VOD media playlist of the joined chunks (timestamps already continue across them)."""
    target = max([1, *(math.floor(seconds + 0.5) for seconds, _ in entries)])
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for seconds, name in entries:
        lines += [f"#EXTINF:{seconds:.6f},", name]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


async def join_pass(db: Database, storage: Storage, tenant_id: UUID, asset_id: UUID, pass_index: int) -> str:
    """Write the pass's rung playlists and add them to the master; the last pass makes the asset ready.

    Run by whichever chunk job finds the pass complete; the lock and the `joined` list make a second
    join (two last chunks at once, a redelivery) a no-op.
    """
    prefix = media_prefix(tenant_id, asset_id)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        lock = func.pg_advisory_xact_lock(func.hashtextextended(f"media.join:{tenant_id}:{asset_id}", 0))
        await session.execute(select(lock))
        asset = await session.get(MediaAsset, asset_id, populate_existing=True)
        if asset is None or asset.status is not AssetStatus.PROCESSING:
            return asset.status.value if asset else "missing"
        plan: dict[str, Any] = dict(asset.details["ladder"])
        if pass_index in plan["joined"]:
            return "processing"
        info = ffmpeg.Probe(
            asset.duration_seconds or 0.0,
            asset.width or 2,
            asset.height or 2,
            bool(asset.details.get("has_audio")),
            "",
            "",
        )
        markers = [
            json.loads(await asyncio.to_thread(storage.get_bytes, chunk_marker_key(prefix, pass_index, chunk)))
            for chunk in range(plan["chunks"])
        ]
        rungs = rungs_of(info, plan["passes"][pass_index])
        for rung in rungs:
            entries = [(float(s[0]), str(s[1])) for m in markers for s in m["segments"][rung.name]]
            sizes = [int(s[2]) for m in markers for s in m["segments"][rung.name]]
            key = f"{prefix}hls/{rung.name}/index.m3u8"
            body = media_playlist(entries).encode()
            await asyncio.to_thread(storage.put_bytes, key, body, "application/vnd.apple.mpegurl")
            total_seconds = sum(seconds for seconds, _ in entries) or 1.0
            peak = max([0, *(int(size * 8 / s) for (s, _), size in zip(entries, sizes, strict=True) if s > 0.5)])
            average = int(sum(sizes) * 8 / total_seconds)
            await session.execute(
                delete(MediaRendition).where(MediaRendition.asset_id == asset_id, MediaRendition.name == rung.name)
            )
            session.add(
                MediaRendition(
                    tenant_id=tenant_id,
                    asset_id=asset_id,
                    name=rung.name,
                    width=rung.width_for(info.width, info.height),
                    height=rung.height,
                    bandwidth=max(peak, average),
                    average_bandwidth=average,
                    codecs=ffmpeg_codecs(info),
                    playlist_key=key,
                )
            )
        plan["joined"] = sorted({*plan["joined"], pass_index})
        asset.details = {**asset.details, "ladder": plan}
        if asset.playable_at is None:
            asset.playable_at = clock.now()
        if len(plan["joined"]) < len(plan["passes"]):
            log.info("media rungs added", asset_id=str(asset_id), rungs=[r.name for r in rungs])
            return "processing"
        # The whole ladder is in: the stream copy (keyframes not aligned with the ladder) leaves the
        # master. Its files stay, for players that loaded it before this.
        await session.execute(
            delete(MediaRendition).where(MediaRendition.asset_id == asset_id, MediaRendition.name == SOURCE_RENDITION)
        )
        asset.status = AssetStatus.READY
        asset.progress = 100
        asset.failure_reason = None
        asset.ready_at = clock.now()
        await record_lesson_duration(session, tenant_id, asset_id, info.duration)
    log.info("media ready", asset_id=str(asset_id), duration=info.duration)
    return "ready"
