"""The site's sign-in providers as tenant admins manage them: list, unique names, save, remove.

Runs on the request's tenant-bound session, so RLS limits every query to the tenant's own providers.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import SsoProvider
from lms.identity.sso.services.provisioning import get_provider
from lms.lib.errors import Conflict
from lms.lib.pagination import Page, PageParams, paginate
from lms.tenancy.services.audit import AdminAudit


async def list_providers(session: AsyncSession, page: PageParams) -> Page[SsoProvider]:
    """The site's providers (OIDC and SAML), oldest first."""
    query = select(SsoProvider).order_by(SsoProvider.created_at, SsoProvider.id)
    return await paginate(session, query, page)


async def ensure_unique_name(session: AsyncSession, name: str, provider_id: UUID | None) -> None:
    """Refuse a name another provider of the site already has."""
    existing = (await session.execute(select(SsoProvider).where(SsoProvider.name == name))).scalar_one_or_none()
    if existing is not None and existing.id != provider_id:
        raise Conflict("a provider with this name already exists", field="name")


async def add_provider(session: AsyncSession, provider: SsoProvider, audit: AdminAudit) -> SsoProvider:
    """Store a new provider; its id and timestamps are set on return."""
    session.add(provider)
    await session.flush()
    # The configuration holds secrets: the log names the provider, never its settings.
    await audit.record(
        "sso.provider_created", "sso_provider", provider.id, provider.name, None, {"kind": provider.kind}
    )
    return provider


async def save_provider(session: AsyncSession, provider: SsoProvider, audit: AdminAudit) -> SsoProvider:
    """Write a changed provider's settings now, so a conflict surfaces in this request."""
    await session.flush()
    await audit.record("sso.provider_updated", "sso_provider", provider.id, provider.name)
    return provider


async def remove_provider(session: AsyncSession, provider_id: UUID, audit: AdminAudit) -> None:
    """Delete a provider (404 when the site has none by that id)."""
    provider = await get_provider(session, provider_id)
    await session.delete(provider)
    await audit.record(
        "sso.provider_deleted", "sso_provider", provider.id, provider.name, {"kind": provider.kind}, None
    )
