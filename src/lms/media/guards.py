"""Who may watch an asset: tenant admins, its uploader, the instructors of a course that shows it,
and learners enrolled in such a course. The learning side of the question is asked in
`lms.media.services.learning_link`, through the catalogue's and learning's queries."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.guards import Principal
from lms.identity.schemas import Role
from lms.media.models import MediaAsset
from lms.media.services import learning_link

STAFF_ROLES = (Role.INSTRUCTOR, Role.TENANT_ADMIN)


def is_media_staff(principal: Principal) -> bool:
    """May upload and manage media (any course's material is prepared by instructors)."""
    return principal.has_role(*STAFF_ROLES)


async def may_watch(session: AsyncSession, principal: Principal, asset_id: UUID) -> bool:
    """Playback authorization for one asset of the session's tenant (RLS already scopes the rows)."""
    if principal.has_role(Role.TENANT_ADMIN):
        return True
    if principal.has_role(Role.INSTRUCTOR):
        asset = await session.get(MediaAsset, asset_id)
        if asset is not None and asset.uploaded_by == principal.user_id:
            return True
        if await learning_link.instructs_course_showing(session, principal.user_id, asset_id):
            return True
    return await learning_link.enrolled_in_course_showing(session, principal.user_id, asset_id)
