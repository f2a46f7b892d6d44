"""Identity reads other domains may call: how to address a user, never the account row itself.

They run on the caller's tenant-bound session, so RLS scopes them like any identity query.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import User, UserStatus


@dataclass(frozen=True)
class UserContact:
    id: UUID
    display_name: str
    email: str
    locale: str | None = None
    time_zone: str | None = None


async def user_contact(session: AsyncSession, user_id: UUID) -> UserContact | None:
    user = await session.get(User, user_id)
    if user is None:
        return None
    return UserContact(user.id, user.display_name, user.email, user.locale, user.time_zone)


async def user_contacts(session: AsyncSession, user_ids: set[UUID]) -> dict[UUID, UserContact]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.display_name, User.email, User.locale, User.time_zone).where(User.id.in_(user_ids))
    )
    return {row[0]: UserContact(*row) for row in rows}


async def active_user_ids(session: AsyncSession, roles: frozenset[str] | None = None) -> list[UUID]:
    """Every active or invited account of the bound tenant, optionally only those holding one of `roles`."""
    query = select(User.id).where(User.status != UserStatus.DEACTIVATED)
    if roles:
        query = query.where(User.roles.overlap(list(roles)))
    return list(await session.scalars(query))


async def group_members(session: AsyncSession, groups: list[str]) -> list[UUID]:
    """Active accounts sharing at least one of `groups` (the membership as the directory keeps it)."""
    if not groups:
        return []
    query = select(User.id).where(User.status != UserStatus.DEACTIVATED, User.groups.overlap(groups))
    return list(await session.scalars(query))


async def user_groups(session: AsyncSession, user_id: UUID) -> list[str]:
    return list(await session.scalar(select(User.groups).where(User.id == user_id)) or [])


async def user_status(session: AsyncSession, user_id: UUID) -> UserStatus | None:
    """The account's status; None when there is no such user in this tenant."""
    return await session.scalar(select(User.status).where(User.id == user_id))
