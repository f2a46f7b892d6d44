"""Transcoding under the faults a deployment meets: the whole worker killed mid-job, a PostgreSQL
restart that left the worker's pooled connections dead, and a full disk."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import text

from lms.config import Settings
from lms.db.engines import Database
from lms.lib.storage import media_prefix, storage_for
from tests.integration.media.test_worker_loss import encoder_parent
from tests.media_fixtures import MediaSite, SiteClient, generate_video, send_parts, start_upload, wait_for_asset
from tests.support import celery_worker, private_queue
from workers.runtime import WORKER_APPLICATION_NAME

pytestmark = pytest.mark.worker


@pytest.fixture
def queue(settings: Settings) -> Iterator[Settings]:
    with private_queue(settings) as private:
        yield private


SHORT_LEASE = {"JOB_LEASE_SECONDS": "4"}  # renewed every 1.3 s, reaped within 5 s of lapsing


async def upload(client: SiteClient, site: MediaSite, data: bytes, name: str) -> str:
    headers = site.staff_headers
    started = await start_upload(client, headers, name, len(data))
    await send_parts(client, headers, started, data)
    completed = await client.post(f"/api/v1/media/uploads/{started['id']}/complete", headers=headers)
    assert completed.status_code == 202, completed.text
    return str(started["asset_id"])


async def test_a_whole_worker_killed_mid_transcode_is_resumed_once_by_the_reaper(
    media_client: SiteClient, media_site: MediaSite, queue: Settings, tmp_path: Path
) -> None:
    source = generate_video(tmp_path / "long.mp4", 8, "1280x720").read_bytes()
    with celery_worker(queue, tmp_path / "doomed.log", beat=True, env=SHORT_LEASE) as doomed:
        asset_id = await upload(media_client, media_site, source, "long.mp4")
        deadline = time.monotonic() + 40
        while encoder_parent(asset_id) is None:
            assert time.monotonic() < deadline, "FFmpeg never started"
            await asyncio.sleep(0.05)
        # Every process of the worker at once: main process, pool, beat and the encoder.
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    killed_at = time.monotonic()
    stuck = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=media_site.staff_headers)).json()
    assert stuck["status"] == "processing"

    # The message of the killed job stays unacknowledged for hours; the lease reaper re-sends it.
    with celery_worker(queue, tmp_path / "replacement.log", beat=True, env=SHORT_LEASE):
        asset = await wait_for_asset(media_client, media_site.staff_headers, asset_id, {"ready", "failed"}, 60)
    assert asset["status"] == "ready", asset["failure_reason"]
    assert asset["attempts"] == 2  # resumed once, not once per reaper run
    assert time.monotonic() - killed_at < 60


async def terminate_worker_connections(db: Database) -> int:
    """What a PostgreSQL restart does to the worker's pooled connections (other processes of this
    run, such as a live server, keep theirs). A role may end its own sessions: the worker's are lms_app's."""
    async with db.app_engine.connect() as conn:
        result = await conn.execute(
            text(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where application_name = :name and datname = current_database() and usename = current_user"
            ),
            {"name": WORKER_APPLICATION_NAME},
        )
        return int(result.scalar_one())


async def test_a_transcode_after_the_database_dropped_every_connection_completes(
    media_client: SiteClient, media_site: MediaSite, queue: Settings, db: Database, tmp_path: Path
) -> None:
    first = generate_video(tmp_path / "first.mp4", 2, "320x240").read_bytes()
    second = generate_video(tmp_path / "second.mp4", 2, "320x240").read_bytes()
    with celery_worker(queue, tmp_path / "worker.log"):
        ready = await wait_for_asset(
            media_client,
            media_site.staff_headers,
            await upload(media_client, media_site, first, "first.mp4"),
            {"ready"},
        )
        assert ready["status"] == "ready"
        assert await terminate_worker_connections(db) >= 1
        asset_id = await upload(media_client, media_site, second, "second.mp4")
        asset = await wait_for_asset(media_client, media_site.staff_headers, asset_id, {"ready", "failed"}, 60)
    assert asset["status"] == "ready", asset["failure_reason"]
    assert asset["attempts"] == 1  # the dead connection was replaced before use, not retried into


def mount_tmpfs(target: Path, size_bytes: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(target)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {result.stderr.decode().strip()}")


def unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=True)


async def test_a_transcode_that_fills_the_disk_fails_at_once_and_leaves_nothing_behind(
    media_client: SiteClient, media_site: MediaSite, settings: Settings, queue: Settings, tmp_path: Path
) -> None:
    source = generate_video(tmp_path / "big.mp4", 6, "1280x720").read_bytes()
    work = settings.data_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    # The source is read in place from local storage; the work disk has no room for the renditions.
    mount_tmpfs(work, 64 * 1024)
    try:
        with celery_worker(queue, tmp_path / "worker.log"):
            started = time.monotonic()
            asset_id = await upload(media_client, media_site, source, "big.mp4")
            asset = await wait_for_asset(media_client, media_site.staff_headers, asset_id, {"ready", "failed"}, 60)
            elapsed = time.monotonic() - started
        assert list(work.iterdir()) == []  # partial outputs removed
    finally:
        unmount(work)
    assert asset["status"] == "failed"
    assert "no space left" in asset["failure_reason"]
    assert asset["attempts"] == 1  # no re-encoding into the same full disk
    assert elapsed < 60  # no retry: backing off through four retries takes 150 s more
    storage = storage_for(settings)
    prefix = media_prefix(media_site.tenant.id, UUID(asset_id))
    assert storage.list_keys(prefix) == [prefix + "source"]


async def test_a_part_upload_onto_a_full_disk_answers_507_and_keeps_no_partial_part(
    media_client: SiteClient, media_site: MediaSite, settings: Settings, tmp_path: Path
) -> None:
    data = generate_video(tmp_path / "clip.mp4", 4, "640x360").read_bytes()
    headers = media_site.staff_headers
    parts_root = storage_for(settings).root / ".multipart"  # type: ignore[attr-defined]
    mount_tmpfs(parts_root, 64 * 1024)  # room for the upload's folder, not for a part
    try:
        started = await start_upload(media_client, headers, "clip.mp4", len(data))
        part = started["missing_parts"][0]
        response = await media_client.put(part["url"], content=data[: part["size"]], headers=headers)
    finally:
        unmount(parts_root)
    assert response.status_code == 507, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_storage"
    assert "no space left" in error["message"]
