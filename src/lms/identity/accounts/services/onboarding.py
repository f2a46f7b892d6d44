"""A new tenant's first admin: created and invited in the tenant's own RLS-bound transaction."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.identity.accounts.services.directory import UserDirectory
from lms.identity.models import Role
from lms.identity.schemas import UserCreate


@dataclass(frozen=True)
class InvitedAdmin:
    user_id: UUID
    email: str
    link: str


def tenant_site_url(settings: Settings, slug: str) -> str:
    """The address a tenant answers on before it has a custom domain (invitation links point here)."""
    if settings.public_base_domain == "localhost":
        return f"http://{slug}.localhost:{settings.port}"
    return f"https://{slug}.{settings.public_base_domain}"


async def invite_first_admin(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    tenant_id: UUID,
    slug: str,
    email: str,
    display_name: str | None,
) -> InvitedAdmin:
    """Create the tenant's first `tenant_admin` (status invited) and queue the invitation e-mail.

    The tenant row must be committed first: the account references it and is written as the tenant
    (lms_app under RLS), never across tenants."""
    data = UserCreate(
        email=email,
        display_name=display_name or email.split("@", 1)[0],
        roles=[Role.TENANT_ADMIN, Role.LEARNER],
    )
    async with tenant_session(sessions, tenant_id) as session:
        directory = UserDirectory(session, tenant_id, settings, tenant_site_url(settings, slug))
        user, link = await directory.create_with_link(data)
        assert link is not None
        return InvitedAdmin(user.id, user.email, link)
