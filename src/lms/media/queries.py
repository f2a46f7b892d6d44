"""Media reads other domains may call: whether a version's videos are playable (catalogue
publishing), where a phrase is spoken in a video (catalogue search), and the storage a tenant uses
(billing's daily snapshot)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Select, func, select
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


def spoken_cues_sql() -> str:
    """Videos of the bound tenant whose captions contain the words of the parameter `:q` (PostgreSQL full text,
    English stemming), each with its best cue: where in the video the phrase is said. As SQL another domain's
    statement embeds (a CTE of `asset_id, start_seconds, text, rank`), so that a search that also looks into
    what videos say is one statement."""
    return """
        select distinct on (c.asset_id) c.asset_id, c.start_seconds, c.text,
               ts_rank_cd(c.search_vector, query) as rank
          from media_transcript_cues c, websearch_to_tsquery('english', :q) query
         where c.search_vector @@ query
         order by c.asset_id, rank desc, c.position
         limit 200
    """


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
