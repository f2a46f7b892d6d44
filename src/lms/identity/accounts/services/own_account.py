"""A signed-in user's own account: the account row and the sign-ins that can still be refreshed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import RefreshToken, User
from lms.identity.principal import Principal
from lms.lib import clock
from lms.lib.errors import NotFound


@dataclass(frozen=True)
class ActiveSession:
    started_at: datetime
    last_active_at: datetime


async def active_sessions(session: AsyncSession, user_id: UUID) -> list[ActiveSession]:
    """One entry per sign-in (refresh-token family) that can still be refreshed."""
    now = clock.now()
    alive = (
        select(RefreshToken.family_id)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.used_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(func.min(RefreshToken.created_at), func.max(RefreshToken.created_at))
        .where(RefreshToken.user_id == user_id, RefreshToken.family_id.in_(alive))
        .group_by(RefreshToken.family_id)
        .order_by(func.max(RefreshToken.created_at).desc())
    )
    return [ActiveSession(started, last) for started, last in rows.all()]


async def current_user(db_session: AsyncSession, principal: Principal) -> User:
    user = await db_session.get(User, principal.user_id)
    if user is None:
        raise NotFound("user not found")
    return user
