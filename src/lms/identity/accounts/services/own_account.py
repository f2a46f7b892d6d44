"""A signed-in user's own account: the account row and the sign-ins that can still be refreshed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.accounts.services.profiles import forget_profile
from lms.identity.guards import Principal
from lms.identity.models import RefreshToken, User
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


async def find_user(db_session: AsyncSession, user_id: UUID) -> User | None:
    """The user with this id in the bound tenant, or None (RLS hides other tenants' users)."""
    return await db_session.get(User, user_id)


async def current_user(db_session: AsyncSession, principal: Principal) -> User:
    """The signed-in user's row; 404 if it was deleted while the session lived."""
    user = await find_user(db_session, principal.user_id)
    if user is None:
        raise NotFound("user not found")
    return user


async def update_profile(
    db_session: AsyncSession, user: User, display_name: str, locale: str | None, time_zone: str | None
) -> None:
    """Save a user's own name, language and time zone; the cached profile is dropped."""
    user.display_name = display_name
    user.locale = locale
    user.time_zone = time_zone
    await db_session.flush()
    forget_profile(user.tenant_id, user.id)
