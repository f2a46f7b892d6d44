"""Identity reads other domains may call: how to address a user, never the account row itself.

They run on the caller's tenant-bound session, so RLS scopes them like any identity query.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
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


async def user_ids_by_email(session: AsyncSession, emails: list[str]) -> dict[str, UUID]:
    """Lower-cased e-mail -> user id, for the addresses that belong to users of this tenant."""
    if not emails:
        return {}
    wanted = [email.lower() for email in emails]
    rows = await session.execute(select(User.id, User.email).where(func.lower(User.email).in_(wanted)))
    return {email.lower(): user_id for user_id, email in rows}
