"""The site's sign-in providers as tenant admins manage them: list, unique names, save, remove, and
whether everyone must sign in with one.

Runs on the request's tenant-bound session, so RLS limits every query to the tenant's own providers.
"""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import SsoProvider
from lms.identity.signin.services.local import tenant_settings
from lms.identity.sso.services.provisioning import get_provider
from lms.lib import clock
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


async def require_sso(session: AsyncSession, tenant_id: UUID, required: bool, audit: AdminAudit) -> None:
    """Turn "everyone signs in with SSO" on or off. On needs an enabled provider first, or nobody
    (admins included) could sign in any more."""
    settings = dict(await tenant_settings(session, tenant_id))
    sso = dict(settings.get("sso") or {})
    before = bool(sso.get("required", False))
    if required and not before:
        enabled = await session.execute(select(SsoProvider.id).where(SsoProvider.enabled.is_(True)).limit(1))
        if enabled.first() is None:
            raise Conflict("switch on a sign-in provider before you require single sign-on", field="sso_required")
    if required == before:
        return
    sso["required"] = required
    # The tenants table is the tenancy domain's; its settings document is read the same way (by SQL).
    await session.execute(
        text("update tenants set settings = cast(:settings as jsonb), updated_at = :now where id = :id"),
        {"settings": json.dumps({**settings, "sso": sso}), "now": clock.now(), "id": tenant_id},
    )
    await audit.record_change(
        "settings.sso_required_changed", "settings", None, None, {"sso_required": before}, {"sso_required": required}
    )
