"""Media reads other domains may call (the catalogue asks whether a version's videos are playable)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.media.models import AssetStatus, MediaAsset


async def assets_not_ready(session: AsyncSession, asset_ids: set[UUID]) -> set[UUID]:
    """Of these assets (of the bound tenant), the ones a learner cannot play yet."""
    if not asset_ids:
        return set()
    ready = await session.execute(
        select(MediaAsset.id).where(MediaAsset.id.in_(asset_ids), MediaAsset.status == AssetStatus.READY)
    )
    return asset_ids - set(ready.scalars())


async def asset_exists(session: AsyncSession, asset_id: UUID) -> bool:
    """Whether the bound tenant has a media asset with this id (a lesson may point at it)."""
    found = await session.execute(select(MediaAsset.id).where(MediaAsset.id == asset_id))
    return found.first() is not None
