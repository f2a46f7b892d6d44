"""An instructor uploads a lecture in parts (surviving a dropped part), and it becomes an HLS ladder."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.media.services.ffmpeg import SEGMENT_SECONDS
from tests.media_fixtures import PART_SIZE, MediaSite, SiteClient, UploadedVideo

Client = AsyncTestClient[Litestar]


def ffprobe(url: str) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", url],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def source_duration(path: str) -> float:
    return float(ffprobe(path)["format"]["duration"])


async def test_interrupted_part_is_resumed_and_the_ladder_matches_the_source(
    ready_video: UploadedVideo, media_client: SiteClient, media_site: MediaSite, media_live_server: str
) -> None:
    resumed = ready_video.after_interruption
    assert resumed["parts_received"] == [1]
    assert resumed["bytes_received"] == PART_SIZE
    assert [p["number"] for p in resumed["missing_parts"]] == list(range(2, resumed["part_count"] + 1))

    asset = ready_video.asset
    assert asset["status"] == "ready", asset["failure_reason"]
    assert asset["progress"] == 100
    assert (asset["width"], asset["height"]) == (854, 480)
    # 480p source: 480p and 360p, never an upscaled 720p or 1080p.
    assert [r["name"] for r in asset["renditions"]] == ["480p", "360p"]
    duration = source_duration(str(ready_video.source))
    assert abs(asset["duration_seconds"] - duration) < 0.5

    master = await media_client.get(
        f"/api/v1/media/assets/{ready_video.asset_id}/master.m3u8", headers=media_site.staff_headers
    )
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert len(variants) == 2
    assert "RESOLUTION=854x480" in master.text
    assert "RESOLUTION=640x360" in master.text

    # ffprobe reads the whole ladder over HTTP, as a player would.
    for variant in variants:
        probed = ffprobe(media_live_server + variant)
        streams = {s["codec_type"]: s for s in probed["streams"]}
        assert streams["video"]["codec_name"] == "h264"
        assert streams["audio"]["codec_name"] == "aac"
        assert abs(float(probed["format"]["duration"]) - duration) <= SEGMENT_SECONDS
        playlist = (await media_client.get(variant)).text
        assert "#EXT-X-TARGETDURATION:6" in playlist
        assert playlist.count("#EXTINF:") == 3  # 14 s in 6 s segments
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")

    # The poster and the scrubbing sprite index exist and are signed like the stream.
    playback = (
        await media_client.get(
            f"/api/v1/media/assets/{ready_video.asset_id}/playback", headers=media_site.staff_headers
        )
    ).json()
    poster = await media_client.get(playback["poster_url"])
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/jpeg"
    thumbnails = await media_client.get(playback["thumbnails_url"])
    assert thumbnails.text.startswith("WEBVTT")
    assert "sprite_000.jpg#xywh=0,0,160,90" in thumbnails.text
    sprite = await media_client.get(playback["thumbnails_url"].replace("thumbnails.vtt", "sprite_000.jpg"))
    assert sprite.status_code == 200
    assert sprite.headers["cache-control"] == "public, max-age=31536000, immutable"
