"""Our own URL signing and the ladder rules, without I/O."""

from __future__ import annotations

from lms.lib.signing import link_key, sign, verify
from lms.media.services.ffmpeg import Probe, ladder_for, sprite_index, sprite_interval


def test_a_signature_verifies_only_for_its_scope_key_and_lifetime() -> None:
    key = link_key("secret", "media-stream")
    token = sign(key, "tenant/asset", 2_000)
    assert verify(key, "tenant/asset", token, now=1_999)
    assert not verify(key, "tenant/asset", token, now=2_000)  # expired
    assert not verify(key, "tenant/other-asset", token, now=1_000)
    assert not verify(link_key("secret", "other-purpose"), "tenant/asset", token, now=1_000)
    assert not verify(link_key("another-secret", "media-stream"), "tenant/asset", token, now=1_000)
    expiry, mac = token.split(".")
    assert not verify(key, "tenant/asset", f"{int(expiry) + 1}.{mac}", now=1_000)
    assert not verify(key, "tenant/asset", f"{expiry}.{mac[:-1]}x", now=1_000)
    assert not verify(key, "tenant/asset", "garbage", now=1_000)


def test_the_ladder_never_upscales() -> None:
    assert [r.name for r in ladder_for(2160)] == ["1080p", "720p", "480p", "360p"]
    assert [r.name for r in ladder_for(1080)] == ["1080p", "720p", "480p", "360p"]
    assert [r.name for r in ladder_for(720)] == ["720p", "480p", "360p"]
    assert [r.name for r in ladder_for(500)] == ["480p", "360p"]
    assert [r.name for r in ladder_for(180)] == ["180p"]
    assert ladder_for(720)[0].width_for(1280, 720) == 1280
    assert ladder_for(480)[0].width_for(854, 480) == 854


def test_the_sprite_index_covers_the_whole_video() -> None:
    assert sprite_interval(250.0) == 3
    assert sprite_interval(5.0) == 1
    info = Probe(duration=1200.0, width=1920, height=1080, has_audio=True, format_name="mp4", video_codec="h264")
    assert sprite_interval(info.duration) == 10
    vtt = sprite_index(info, lambda sheet: f"sprite_{sheet:03d}.jpg")
    cues = [line for line in vtt.splitlines() if "-->" in line]
    assert len(cues) == 120
    assert cues[-1].endswith("00:20:00.000")
    assert "sprite_000.jpg#xywh=0,0,160,90" in vtt
    assert "sprite_000.jpg#xywh=1440,810,160,90" in vtt  # the 100th thumbnail fills sheet 0
    assert "sprite_001.jpg#xywh=0,0,160,90" in vtt
