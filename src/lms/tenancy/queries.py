"""Tenancy reads other domains may call: a tenant's public profile and the list of active tenants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, ScalarSelect, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from lms.lib.records import row_record
from lms.tenancy.models import AdminAuditEntry, Tenant, TenantDomain, TenantStatus


@dataclass(frozen=True)
class TenantProfile:
    id: UUID
    slug: str
    name: str
    branding: dict[str, Any] = field(default_factory=dict)
    # The primary verified custom domain, else the oldest verified one; None without any.
    custom_hostname: str | None = None


def _custom_hostname_of(tenant_id: ColumnElement[UUID] | QueryableAttribute[UUID]) -> ScalarSelect[str]:
    """The primary verified custom domain of the tenant `tenant_id` refers to, else its oldest verified one."""
    return (
        select(TenantDomain.hostname)
        .where(TenantDomain.tenant_id == tenant_id, TenantDomain.verified.is_(True))
        .order_by(TenantDomain.is_primary.desc(), TenantDomain.created_at)
        .limit(1)
        .scalar_subquery()
    )


async def tenant_profile(session: AsyncSession, tenant_id: UUID) -> TenantProfile | None:
    custom_domain = _custom_hostname_of(Tenant.id)
    row = (await session.execute(select(Tenant, custom_domain).where(Tenant.id == tenant_id))).first()
    if row is None:
        return None
    tenant, hostname = row
    return TenantProfile(tenant.id, tenant.slug, tenant.name, dict(tenant.branding or {}), hostname)


def tenant_address_of(
    tenant_id: ColumnElement[UUID] | QueryableAttribute[UUID],
) -> tuple[ScalarSelect[str], ScalarSelect[str]]:
    """The slug and the custom hostname (as `tenant_profile` has them; the hostname may be null) of the tenant
    `tenant_id` refers to, as columns another domain selects in its own statement (one round trip for a list
    that shows public links)."""
    return select(Tenant.slug).where(Tenant.id == tenant_id).scalar_subquery(), _custom_hostname_of(tenant_id)


async def active_tenant_ids(session: AsyncSession) -> list[UUID]:
    """Every active tenant (an operator session: the list is platform-wide)."""
    return list(await session.scalars(select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE)))


async def primary_hostname(session: AsyncSession) -> str | None:
    """The bound tenant's primary verified custom domain, if it has one."""
    return (
        await session.execute(
            select(TenantDomain.hostname).where(TenantDomain.is_primary.is_(True), TenantDomain.verified.is_(True))
        )
    ).scalar_one_or_none()


async def verified_domain_count(session: AsyncSession) -> int:
    """The bound tenant's verified custom domains (each one serves the site)."""
    return int(await session.scalar(select(func.count()).where(TenantDomain.verified.is_(True))) or 0)


@dataclass(frozen=True)
class TenantLicence:
    plan: str
    seats: int
    created_at: datetime


async def tenant_licence(session: AsyncSession, tenant_id: UUID) -> TenantLicence | None:
    """The plan and seats an operator or a manifest gave the tenant (billing's starting point)."""
    row = (
        await session.execute(select(Tenant.plan, Tenant.seats, Tenant.created_at).where(Tenant.id == tenant_id))
    ).first()
    return TenantLicence(str(row.plan), row.seats, row.created_at) if row is not None else None


async def audit_records_about_user(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """The bound tenant's audit entries about a person (they are the target) or by them (they acted),
    oldest first, for their personal data export."""
    query = (
        select(AdminAuditEntry)
        .where(or_(AdminAuditEntry.target_id == str(user_id), AdminAuditEntry.actor_user_id == user_id))
        .order_by(AdminAuditEntry.created_at, AdminAuditEntry.id)
    )
    return [row_record(row) for row in await session.scalars(query)]
