"""The ladder is encoded in time chunks by independent jobs: a worker process killed in the middle of
a chunk is replaced, the chunk runs again, and every rung comes out continuous and aligned."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lms.config import Settings
from tests.media_fixtures import MediaSite, SiteClient, generate_video, send_parts, start_upload, wait_for_asset
from tests.support import celery_worker, private_queue

pytestmark = pytest.mark.worker

CHUNK_SECONDS = 6
FRAME = 1 / 30


@pytest.fixture
def queue(settings: Settings) -> Iterator[Settings]:
    with private_queue(settings) as private:
        yield private


def chunk_encoder_parent(asset_id: str) -> int | None:
    """The worker process running FFmpeg on one of this asset's ladder chunks."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        chunk_encoder = command and command[0].endswith(b"ffmpeg") and b"-output_ts_offset" in command
        if chunk_encoder and any(asset_id.encode() in part for part in command):
            return int(stat.rsplit(")", 1)[1].split()[1])
    return None


def video_packets(path: Path) -> list[tuple[float, bool]]:
    """(pts, keyframe) of every video packet of one MPEG-TS segment."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "json",
         str(path)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return [(float(p["pts_time"]), p["flags"].startswith("K")) for p in json.loads(out)["packets"]]


async def test_a_worker_killed_mid_chunk_is_replaced_and_every_rung_is_continuous(
    media_client: SiteClient, media_site: MediaSite, queue: Settings, tmp_path: Path
) -> None:
    data = generate_video(tmp_path / "lecture.mp4", 24, "854x480").read_bytes()
    headers = media_site.staff_headers
    env = {"MEDIA_CHUNK_SECONDS": str(CHUNK_SECONDS)}
    with celery_worker(queue, tmp_path / "worker.log", env=env):
        upload = await start_upload(media_client, headers, "lecture.mp4", len(data))
        await send_parts(media_client, headers, upload, data)
        assert (await media_client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)).is_success
        asset_id = upload["asset_id"]
        deadline = time.monotonic() + 60
        victim = chunk_encoder_parent(asset_id)
        while victim is None:
            assert time.monotonic() < deadline, "no chunk was ever encoded"
            await asyncio.sleep(0.02)
            victim = chunk_encoder_parent(asset_id)
        during = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
        assert during["status"] == "processing"
        assert during["playable"] is True  # the stream copy came first
        assert 0 <= during["progress"] < 100
        # The pool process dies with its encoder; Celery replaces it and the chunk is delivered again.
        os.kill(victim, signal.SIGKILL)
        asset = await wait_for_asset(media_client, headers, asset_id, {"ready", "failed"}, timeout=120)

    assert asset["status"] == "ready", asset["failure_reason"]
    assert asset["progress"] == 100
    assert asset["attempts"] >= 2  # the killed chunk ran again
    assert [r["name"] for r in asset["renditions"]] == ["480p", "360p"]
    master = (await media_client.get(f"/api/v1/media/assets/{asset_id}/master.m3u8", headers=headers)).text
    urls = [line for line in master.splitlines() if line.startswith("/media/s/")]
    assert len(urls) == 2

    starts: dict[str, list[float]] = {}
    for url in urls:
        rung = url.split("/hls/")[1].split("/")[0]
        playlist = (await media_client.get(url)).text
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
        names = [line for line in playlist.splitlines() if line.endswith(".ts")]
        # One 6-second segment per 6-second chunk, each exactly once, in order.
        assert names == [f"seg_{chunk:04d}_000.ts" for chunk in range(4)]
        durations = [float(line[8:].split(",")[0]) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
        assert abs(sum(durations) - 24) < 0.1
        packets: list[tuple[float, bool]] = []
        starts[rung] = []
        for name in names:
            segment = tmp_path / f"{rung}-{name}"
            response = await media_client.get(url.rsplit("/", 1)[0] + "/" + name)
            assert response.status_code == 200
            segment.write_bytes(response.content)
            segment_packets = sorted(video_packets(segment))
            assert segment_packets[0][1], f"{rung} {name} does not start on a keyframe"
            starts[rung].append(round(segment_packets[0][0], 3))
            packets += segment_packets
        times = [pts for pts, _ in packets]
        # Monotonic and continuous across chunk joins: one frame apart, no gap, no repeat.
        steps = [b - a for a, b in itertools.pairwise(times)]
        assert all(abs(step - FRAME) < 0.002 for step in steps), (rung, max(steps), min(steps))
        assert len(times) == 24 * 30
    # Switching quality is seamless: every rung's segments start at the same instants.
    assert starts["480p"] == starts["360p"]
    assert [round(b - a, 3) for a, b in itertools.pairwise(starts["480p"])] == [6.0, 6.0, 6.0]
