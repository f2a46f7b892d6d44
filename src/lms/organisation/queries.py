"""Organisation reads other domains may call: a group with its subgroups.

They run on the caller's tenant-bound session, so RLS scopes them like any organisation query.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.organisation.models import OrgGroup


async def group_names_within(session: AsyncSession, group_id: UUID) -> list[str]:
    """The names of a group and of every group nested under it (members of any of them belong to it);
    empty when the group does not exist."""
    tree = select(OrgGroup.id, OrgGroup.name).where(OrgGroup.id == group_id).cte("tree", recursive=True)
    # A cycle cannot grow the set forever: UNION (not UNION ALL) stops on rows already seen.
    tree = tree.union(select(OrgGroup.id, OrgGroup.name).join(tree, OrgGroup.parent_id == tree.c.id))
    return sorted(set((await session.execute(select(tree.c.name))).scalars()))


async def group_names(session: AsyncSession) -> dict[UUID, str]:
    """Every group of the bound tenant: id -> name."""
    return {group_id: name for group_id, name in (await session.execute(select(OrgGroup.id, OrgGroup.name))).all()}
