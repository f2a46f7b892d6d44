"""Media reads other domains may call: whether a version's videos are playable (catalogue
publishing), where a phrase is spoken in a video (catalogue search), and the storage a tenant uses
(billing's daily snapshot)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.media.models import AssetStatus, MediaAsset, PlaybackEvent


async def assets_not_ready(session: AsyncSession, asset_ids: set[UUID]) -> set[UUID]:
    """Of these assets (of the bound tenant), the ones a learner cannot play yet."""
    if not asset_ids:
        return set()

    ready = await session.execute(
        select(MediaAsset.id).where(MediaAsset.id.in_(asset_ids), MediaAsset.status == AssetStatus.READY)
    )
    return asset_ids - set(ready.scalars())


@dataclass(frozen=True)
class SpokenMatch:
    """The best-matching caption cue of one video for a search."""

    asset_id: UUID
    start_seconds: float
    text: str
    rank: float


async def spoken_matches(session: AsyncSession, q: str, limit: int = 200) -> list[SpokenMatch]:
    """Videos of the bound tenant whose captions contain the words of `q` (PostgreSQL full text,
    English stemming), each with its best cue: where in the video the phrase is said."""
    rows = await session.execute(
        text(
            """
            select distinct on (c.asset_id) c.asset_id, c.start_seconds, c.text,
                   ts_rank_cd(c.search_vector, query) as rank
              from media_transcript_cues c, websearch_to_tsquery('english', :q) query
             where c.search_vector @@ query
             order by c.asset_id, rank desc, c.position
             limit :limit
            """
        ),
        {"q": q[:200], "limit": limit},
    )
    return [SpokenMatch(r.asset_id, float(r.start_seconds), str(r.text), float(r.rank)) for r in rows]


async def asset_exists(session: AsyncSession, asset_id: UUID) -> bool:
    """Whether the bound tenant has a media asset with this id (a lesson may point at it)."""
    found = await session.execute(select(MediaAsset.id).where(MediaAsset.id == asset_id))
    return found.first() is not None


async def storage_in_use(session: AsyncSession) -> int:
    """Bytes of the bound tenant's media (the size of each upload as stored)."""
    return int(await session.scalar(select(func.coalesce(func.sum(MediaAsset.size_bytes), 0))) or 0)


def playback_beacons(from_id: UUID, to_id: UUID) -> Select[UUID, str, str, int | None]:
    """Quality beacons stored with ids in [from_id, to_id) (UUIDv7, so in the order they arrived):
    (asset, session, kind, value in ms), for the analytics rollups."""
    return select(PlaybackEvent.asset_id, PlaybackEvent.session_id, PlaybackEvent.kind, PlaybackEvent.value_ms).where(
        PlaybackEvent.id >= from_id, PlaybackEvent.id < to_id
    )
