"""Signed HLS delivery: per-viewer master playlists whose variant, segment and caption URLs carry a
short-lived HMAC token bound to the tenant and the asset.

URL shape: `/media/s/<asset id>/<expiry>.<hmac>/<path>`, e.g. `.../hls/720p/seg_00003.ts`. The token
sits in the path, so the relative segment URIs inside a variant playlist inherit it unchanged and
a CDN can cache by full path. Segments are immutable; playlists are short-lived.
"""

from __future__ import annotations

import math
import re
from uuid import UUID

from lms.config import Settings
from lms.lib import clock
from lms.lib.signing import link_key, sign, verify
from lms.media.models import AssetStatus, MediaAsset, MediaCaption, MediaRendition

STREAM_PREFIX = "/media/s"
# Only derived outputs are ever served; the uploaded source never is.
SERVABLE_PATH = re.compile(
    r"^(hls/([0-9]+p|source)/(index\.m3u8|seg_[0-9]{5}\.ts|seg_[0-9]{4}_[0-9]{3}\.ts)|thumbs/[a-z0-9_]+\.(jpg|vtt)|poster\.jpg|"
    r"captions/[A-Za-z0-9-]{2,35}\.(vtt|m3u8))$"
)
# Tokens expire on a grid, so every viewer of an asset in the same minute shares cacheable URLs.
EXPIRY_GRID_SECONDS = 60
SEGMENT_CACHE = "public, max-age=31536000, immutable"
PLAYLIST_CACHE = "private, max-age=10"


class StreamSigner:
    """Makes and checks stream tokens with a key derived from SECRET_KEY."""

    def __init__(self, settings: Settings) -> None:
        self.key = link_key(settings.secret_key, "media-stream")
        self.ttl = settings.media_url_ttl_seconds

    @staticmethod
    def scope(tenant_id: UUID, asset_id: UUID) -> str:
        return f"{tenant_id}/{asset_id}"

    def token(self, tenant_id: UUID, asset_id: UUID, now: float | None = None) -> str:
        now = clock.timestamp() if now is None else now
        expires_at = math.ceil((now + self.ttl) / EXPIRY_GRID_SECONDS) * EXPIRY_GRID_SECONDS
        return sign(self.key, self.scope(tenant_id, asset_id), expires_at)

    def check(self, tenant_id: UUID, asset_id: UUID, token: str) -> bool:
        return verify(self.key, self.scope(tenant_id, asset_id), token)

    def base_url(self, tenant_id: UUID, asset_id: UUID, now: float | None = None) -> str:
        return f"{STREAM_PREFIX}/{asset_id}/{self.token(tenant_id, asset_id, now)}"


def master_playlist(base: str, renditions: list[MediaRendition], captions: list[MediaCaption]) -> str:
    """The adaptive master playlist, highest rung first, with a subtitles group when captions exist."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for i, caption in enumerate(captions):
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{_quoted(caption.label)}",'
            f'LANGUAGE="{caption.language}",AUTOSELECT=YES,DEFAULT={"YES" if i == 0 else "NO"},'
            f'URI="{base}/captions/{caption.language}.m3u8"'
        )
    subtitles = ',SUBTITLES="subs"' if captions else ""
    for rendition in sorted(renditions, key=lambda r: r.height, reverse=True):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f'RESOLUTION={rendition.width}x{rendition.height},CODECS="{rendition.codecs}"{subtitles}'
        )
        lines.append(f"{base}/hls/{rendition.name}/index.m3u8")
    return "\n".join(lines) + "\n"


def caption_playlist(language: str, duration: float) -> str:
    """HLS wraps a WebVTT file in a one-segment media playlist."""
    target = max(1, math.ceil(duration))
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:{duration:.3f},\n{language}.vtt\n#EXT-X-ENDLIST\n"
    )


def _quoted(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def poster_url(settings: Settings, asset: MediaAsset) -> str | None:
    """A signed link to a ready video's poster frame (the studio shows it); None before it is ready."""
    if asset.status != AssetStatus.READY:
        return None
    return f"{StreamSigner(settings).base_url(asset.tenant_id, asset.id)}/poster.jpg"
