"""A short-lived per-process cache of users' own profiles, for `GET /api/v1/me` on every page load.

Entries live PROFILE_CACHE_SECONDS (default 10 s; 0 turns the cache off). Any flush that changes a
user in this process drops that user's entry at once; other processes see a change within the TTL,
which is shorter than an access token's life, so it does not widen what a token allows.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from lms.db.reads import TenantReads, fetch_row, fetch_row_as
from lms.identity.models import User, UserStatus

_MAX_ENTRIES = 50_000
_profiles: dict[tuple[UUID, UUID], tuple[float, Any]] = {}


# A hot read (every page load): sent to asyncpg directly, see fetch_row.
_READ_PROFILE = "SELECT id, tenant_id, email, display_name, roles, status FROM users WHERE id = $1"


class Profile(NamedTuple):
    id: UUID
    tenant_id: UUID
    email: str
    display_name: str
    roles: list[str]
    status: UserStatus


async def read_profile(session: AsyncSession, user_id: UUID) -> Profile | None:
    """A user's own profile as a plain row, under the session's tenant binding: no ORM object, identity
    map or flush bookkeeping."""
    return _profile(await fetch_row(session, _READ_PROFILE, user_id))


async def read_own_profile(reads: TenantReads, user_id: UUID) -> Profile | None:
    """`read_profile` for `GET /me`, which needs nothing else of the database: no session is opened, the
    read takes a pooled connection bound to the reads' tenant for its transaction only."""
    return _profile(await fetch_row_as(reads.engine, reads.tenant_id, _READ_PROFILE, user_id))


def _profile(row: Any) -> Profile | None:
    if row is None:
        return None
    return Profile(row[0], row[1], row[2], row[3], row[4], UserStatus(row[5]))


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
