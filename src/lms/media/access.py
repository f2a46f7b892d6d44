"""Who may watch an asset: the course's staff and learners enrolled in a course that uses it.

The enrolment question belongs to the learning domain; it is asked in exactly one place,
`learner_may_watch`, through a check the learning domain registers with `set_enrolment_check`.
Until one is registered, only staff can watch (the safe default: nobody else is let in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import Role
from lms.identity.principal import Principal

# (session bound to the tenant, user id, asset id) -> enrolled in a course with a lesson using it?
EnrolmentCheck = Callable[[AsyncSession, UUID, UUID], Awaitable[bool]]
STAFF_ROLES = (Role.INSTRUCTOR, Role.TENANT_ADMIN)

_enrolment_check: EnrolmentCheck | None = None


def set_enrolment_check(check: EnrolmentCheck | None) -> None:
    global _enrolment_check
    _enrolment_check = check


def is_media_staff(principal: Principal) -> bool:
    return principal.has_role(*STAFF_ROLES)


async def learner_may_watch(session: AsyncSession, user_id: UUID, asset_id: UUID) -> bool:
    if _enrolment_check is None:
        return False
    return await _enrolment_check(session, user_id, asset_id)


async def may_watch(session: AsyncSession, principal: Principal, asset_id: UUID) -> bool:
    """Playback authorization for one asset of the session's tenant."""
    if is_media_staff(principal):
        return True
    return await learner_may_watch(session, principal.user_id, asset_id)
