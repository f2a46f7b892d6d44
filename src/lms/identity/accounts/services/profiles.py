"""A short-lived per-process cache of users' own profiles, for `GET /api/v1/me` on every page load.

Entries live PROFILE_CACHE_SECONDS (default 10 s; 0 turns the cache off). Any flush that changes a
user in this process drops that user's entry at once; other processes see a change within the TTL,
which is shorter than an access token's life, so it does not widen what a token allows.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from lms.identity.models import User

_MAX_ENTRIES = 50_000
_profiles: dict[tuple[UUID, UUID], tuple[float, Any]] = {}


_PROFILE = User.__table__.c
# Built once: its compiled form and cache key are reused by every request (and its prepared statement by
# every pooled connection).
_READ_PROFILE = select(
    _PROFILE.id, _PROFILE.tenant_id, _PROFILE.email, _PROFILE.display_name, _PROFILE.roles, _PROFILE.status
).where(_PROFILE.id == bindparam("user_id"))


async def read_profile(session: AsyncSession, user_id: UUID) -> Row[Any, Any, Any, Any, Any, Any] | None:
    """The columns of a user's own profile (id, tenant_id, email, display_name, roles, status), read on
    the session's connection as a plain row: no ORM object, identity map or flush bookkeeping."""
    connection = await session.connection()
    return (await connection.execute(_READ_PROFILE, {"user_id": user_id})).first()


def cached_profile(tenant_id: UUID, user_id: UUID) -> Any | None:
    entry = _profiles.get((tenant_id, user_id))
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def remember_profile(tenant_id: UUID, user_id: UUID, profile: Any, seconds: float) -> None:
    if seconds <= 0:
        return
    if len(_profiles) >= _MAX_ENTRIES:
        _profiles.clear()
    _profiles[(tenant_id, user_id)] = (time.monotonic() + seconds, profile)


def forget_profile(tenant_id: UUID, user_id: UUID) -> None:
    _profiles.pop((tenant_id, user_id), None)


@event.listens_for(Session, "after_flush")
def _forget_changed_users(session: Session, _context: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, User):
            forget_profile(obj.tenant_id, obj.id)
