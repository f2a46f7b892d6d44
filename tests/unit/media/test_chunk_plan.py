"""The ladder plan: chunks on the 6-second grid, the lowest rung first when nothing can be copied,
joined playlists, and which derived files are servable."""

from __future__ import annotations

from lms.media.services.delivery import SERVABLE_PATH
from lms.media.services.ffmpeg import Probe, copyable, source_codecs
from lms.media.services.ladder import media_playlist
from lms.media.services.pipeline import ladder_plan


def probe(duration: float, height: int = 1080, **fields: object) -> Probe:
    values: dict[str, object] = {
        "video_profile": "High",
        "video_level": 40,
        "pix_fmt": "yuv420p",
        "audio_codec": "aac",
    }
    values.update(fields)
    return Probe(duration, height * 16 // 9, height, True, "mp4", "h264", **values)  # type: ignore[arg-type]


def test_a_copyable_source_gets_the_whole_ladder_in_one_pass_of_whole_segment_chunks() -> None:
    plan = ladder_plan(probe(600.0), copied=True, chunk_seconds=64)
    assert plan["chunk_seconds"] == 60  # rounded down to whole 6-second segments
    assert plan["chunks"] == 10
    assert plan["passes"] == [["360p", "480p", "720p", "1080p"]]
    assert plan["joined"] == []


def test_a_tail_under_a_second_joins_the_last_chunk() -> None:
    assert ladder_plan(probe(60.4), copied=True, chunk_seconds=60)["chunks"] == 1
    assert ladder_plan(probe(61.5), copied=True, chunk_seconds=60)["chunks"] == 2
    assert ladder_plan(probe(3.0), copied=True, chunk_seconds=60)["chunks"] == 1


def test_a_source_that_cannot_be_copied_gets_its_lowest_rung_first() -> None:
    hevc = probe(120.0, 720, video_profile="Main 10", pix_fmt="yuv420p10le")
    assert not copyable(hevc)
    assert ladder_plan(hevc, copied=False, chunk_seconds=60)["passes"] == [["360p"], ["480p", "720p"]]


def test_only_browser_playable_h264_is_copied() -> None:
    assert copyable(probe(10.0))
    assert copyable(probe(10.0, video_profile="Constrained Baseline"))
    assert not copyable(probe(10.0, video_profile="High 4:4:4 Predictive", pix_fmt="yuv444p"))
    assert not copyable(Probe(10.0, 640, 360, True, "matroska", "vp9", "Profile 0", 0, "yuv420p", "opus"))
    assert source_codecs(probe(10.0)) == "avc1.640028,mp4a.40.2"


def test_joined_playlists_are_vod_with_a_target_covering_every_segment() -> None:
    text = media_playlist([(6.0, "seg_0000_000.ts"), (6.0, "seg_0001_000.ts"), (2.4, "seg_0002_000.ts")])
    assert "#EXT-X-TARGETDURATION:6" in text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert text.index("seg_0000_000.ts") < text.index("seg_0001_000.ts") < text.index("seg_0002_000.ts")
    assert text.rstrip().endswith("#EXT-X-ENDLIST")


def test_chunk_segments_and_the_stream_copy_are_servable_but_markers_and_sources_are_not() -> None:
    assert SERVABLE_PATH.match("hls/720p/seg_0003_001.ts")
    assert SERVABLE_PATH.match("hls/source/seg_00012.ts")
    assert SERVABLE_PATH.match("hls/source/index.m3u8")
    assert not SERVABLE_PATH.match("chunks/p0/0003.json")
    assert not SERVABLE_PATH.match("source")
    assert not SERVABLE_PATH.match("hls/../source")
