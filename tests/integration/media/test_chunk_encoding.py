"""One chunk of the ladder, encoded once for every rung: each rung's segments carry its own video and
the one audio track, at the chunk's place in the video."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lms.media.services import ffmpeg
from tests.media_fixtures import generate_video


def streams(segment: Path) -> list[tuple[str, float]]:
    """(codec type, first timestamp) of every stream of one MPEG-TS segment."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,start_time", "-of", "json", str(segment)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return sorted((s["codec_type"], round(float(s["start_time"]), 2)) for s in json.loads(out)["streams"])


async def test_every_rung_of_a_chunk_carries_the_audio_at_the_chunks_place(tmp_path: Path) -> None:
    source = generate_video(tmp_path / "lecture.mp4", 12, "854x480")
    info = await ffmpeg.probe(source)
    rungs = ffmpeg.ladder_for(info.height)
    out = tmp_path / "hls"
    out.mkdir()

    command = ffmpeg.chunk_command(source, out, info, rungs, 1, 6.0, 6.0)
    await ffmpeg.run_quietly(command, 60, cwd=out)

    assert [rung.name for rung in rungs] == ["480p", "360p"]
    starts = {}
    for rung in rungs:
        entries = ffmpeg.verify_hls(out / rung.name / "chunk_0001.m3u8", 6.0)
        assert [name for _, name, _ in entries] == ["seg_0001_000.ts"]
        found = streams(out / rung.name / "seg_0001_000.ts")
        assert [kind for kind, _ in found] == ["audio", "video"]
        # Second 6 of the video, after the base every chunk's timestamps start from.
        assert dict(found)["video"] == 6.0 + ffmpeg.CHUNK_TIMESTAMP_BASE
        starts[rung.name] = found
    assert starts["480p"] == starts["360p"]
