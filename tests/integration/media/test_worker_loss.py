"""A worker killed in the middle of transcoding: the job runs again on another worker and completes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from uuid import UUID

import pytest

from lms.catalog.models import Lesson
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests import factories
from tests.media_fixtures import MediaSite, SiteClient, generate_video, send_parts, start_upload, wait_for_asset
from tests.support import celery_worker

pytestmark = pytest.mark.worker


def encoder_parent(asset_id: str) -> int | None:
    """The pid of the worker process running FFmpeg for this asset (the encoder's parent)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if command and command[0].endswith(b"ffmpeg") and any(asset_id.encode() in part for part in command):
            return int(stat.rsplit(")", 1)[1].split()[1])
    return None


@pytest.fixture
def long_source(tmp_path: Path) -> bytes:
    return generate_video(tmp_path / "long.mp4", 12, "1280x720").read_bytes()


async def test_a_killed_worker_job_is_redelivered_and_completes(
    media_client: SiteClient,
    media_site: MediaSite,
    settings: Settings,
    db: Database,
    long_source: bytes,
    tmp_path: Path,
) -> None:
    headers = media_site.staff_headers
    with celery_worker(settings, tmp_path / "doomed.log"):
        upload = await start_upload(media_client, headers, "long.mp4", len(long_source))
        # A lesson already shows this video, with the duration its author guessed.
        async with tenant_session(db.app_sessions, media_site.tenant.id) as session:
            lesson = await factories.catalog.make_lesson(
                session, media_site.tenant.id, media_asset_id=UUID(upload["asset_id"]), duration_seconds=120
            )
        await send_parts(media_client, headers, upload, long_source)
        assert (await media_client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)).is_success
        asset_id = upload["asset_id"]

        await wait_for_asset(media_client, headers, asset_id, {"processing"}, timeout=60)
        deadline = time.monotonic() + 30
        victim = encoder_parent(asset_id)
        while victim is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            victim = encoder_parent(asset_id)
        assert victim is not None, "FFmpeg never started"
        before = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
        assert before["status"] == "processing"
        assert before["progress"] < 100
        os.kill(victim, signal.SIGKILL)
    # That worker is gone; a new one picks the job up again.
    with celery_worker(settings, tmp_path / "replacement.log"):
        asset = await wait_for_asset(media_client, headers, asset_id, {"ready", "failed"}, timeout=120)

    assert asset["status"] == "ready", asset["failure_reason"]
    async with tenant_session(db.app_sessions, media_site.tenant.id) as session:
        recorded = await session.get(Lesson, lesson.id, populate_existing=True)
        assert recorded is not None
        assert recorded.duration_seconds == 12  # the video's real duration, recorded when ready
    assert asset["attempts"] >= 2
    # The encoder of the killed attempt died with it.
    assert encoder_parent(asset_id) is None
    master = await media_client.get(f"/api/v1/media/assets/{asset_id}/master.m3u8", headers=headers)
    variants = [line for line in master.text.splitlines() if line.startswith("/media/s/")]
    assert len(variants) == 3  # 720p, 480p, 360p
    for variant in variants:
        playlist = (await media_client.get(variant)).text
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
        segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
        assert len(segments) == 2
        durations = [float(line[8:].split(",")[0]) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
        assert abs(sum(durations) - 12) < 0.5
        for segment in segments:
            response = await media_client.get(variant.rsplit("/", 1)[0] + "/" + segment)
            assert response.status_code == 200
            # Whole MPEG-TS packets from the first byte: a complete, not half-written, segment.
            assert response.content[:1] == b"\x47"
            assert len(response.content) % 188 == 0
