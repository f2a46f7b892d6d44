"""Invitations for accounts created without one yet (bulk import): sent in bounded batches."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings
from lms.identity.accounts.services.directory import UserDirectory
from lms.identity.models import ActionPurpose, ActionToken, User, UserStatus


async def send_pending_invitations(
    session: AsyncSession, tenant_id: UUID, settings: Settings, site_url: str, limit: int
) -> tuple[int, int]:
    """Invite up to `limit` invited accounts that never had an invitation link; (sent, still waiting)."""
    never_invited = (
        select(User)
        .where(
            User.status == UserStatus.INVITED,
            ~exists().where(ActionToken.user_id == User.id, ActionToken.purpose == ActionPurpose.INVITATION.value),
        )
        .order_by(User.created_at, User.id)
    )
    users = list((await session.execute(never_invited.limit(limit))).scalars())
    directory = UserDirectory(session, tenant_id, settings, site_url)
    for user in users:
        await directory.send_invitation(user)
    left = int(await session.scalar(select(func.count()).select_from(never_invited.subquery())) or 0)
    return len(users), left
