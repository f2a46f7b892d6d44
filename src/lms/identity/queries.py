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


async def user_contact(session: AsyncSession, user_id: UUID) -> UserContact | None:
    user = await session.get(User, user_id)
    return UserContact(user.id, user.display_name, user.email) if user is not None else None


async def user_contacts(session: AsyncSession, user_ids: set[UUID]) -> dict[UUID, UserContact]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name, User.email).where(User.id.in_(user_ids)))
    return {user_id: UserContact(user_id, name, email) for user_id, name, email in rows}


async def user_status(session: AsyncSession, user_id: UUID) -> UserStatus | None:
    """The account's status; None when there is no such user in this tenant."""
    return await session.scalar(select(User.status).where(User.id == user_id))


async def tenant_admin_contacts(session: AsyncSession) -> list[UserContact]:
    """The bound tenant's active administrators (who billing notices go to)."""
    rows = await session.execute(
        select(User.id, User.display_name, User.email)
        .where(User.roles.contains(["tenant_admin"]), User.status == UserStatus.ACTIVE)
        .order_by(User.created_at)
    )
    return [UserContact(user_id, name, email) for user_id, name, email in rows]
