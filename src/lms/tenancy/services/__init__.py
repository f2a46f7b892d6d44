"""Operator-side tenant management. Runs on the `lms_operator` role; every change is audited."""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.lib.jobs import enqueue_after_commit
from lms.lib.lookup import get_or_404
from lms.lib.pagination import Page, PageParams, count_and_fetch, paginate
from lms.tenancy.models import OperatorAuditEntry, Plan, Tenant, TenantDomain, TenantStatus
from lms.tenancy.schemas import RESERVED_SLUGS, Branding, DomainOut, TenantOut, TenantUpdate
from lms.tenancy.services.domains import VERIFY_RECORD_PREFIX

PURGE_TASK = "tenancy.purge_tenant"


class Actor(msgspec.Struct, frozen=True):
    """Who is acting: an operator (by id) or a named automation such as a manifest."""

    name: str
    operator_id: UUID | None = None
    request_id: str | None = None


def tenant_snapshot(tenant: Tenant) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "status": tenant.status.value,
        "plan": tenant.plan.value,
        "seats": tenant.seats,
        "branding": tenant.branding,
        "settings": tenant.settings,
    }


def domain_out(domain: TenantDomain) -> DomainOut:
    return DomainOut(
        hostname=domain.hostname,
        verified=domain.verified,
        primary=domain.is_primary,
        verification_token=domain.verification_token,
        verification_record=f"{VERIFY_RECORD_PREFIX}.{domain.hostname} TXT {domain.verification_token}",
    )


def usage_models() -> dict[str, str]:
    """label -> table for every tenant table whose model asks to be counted."""
    from lms.db.base import Base

    labels: dict[str, str] = {}
    for mapper in Base.registry.mappers:
        label = getattr(mapper.class_, "__usage_label__", None)
        if label:
            labels[label] = mapper.class_.__tablename__
    return labels


class TenantAdmin:
    """Create, inspect, suspend, resume, delete tenants and manage their domains."""

    def __init__(self, session: AsyncSession, actor: Actor, base_domain: str) -> None:
        self.session = session
        self.actor = actor
        self.base_domain = base_domain

    # --- reads -------------------------------------------------------------------------------
    async def get(self, tenant_id: UUID) -> Tenant:
        tenant = await get_or_404(self.session, Tenant, tenant_id, "tenant not found")
        return tenant

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return (await self.session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()

    async def list_tenants(self, status: TenantStatus | None, limit: int, offset: int) -> tuple[list[TenantOut], int]:
        query = select(Tenant)
        if status is not None:
            query = query.where(Tenant.status == status)
        tenants, total = await count_and_fetch(self.session, query.order_by(Tenant.created_at), limit, offset)
        return await self.describe_many(tenants), total

    async def audit_log(self, tenant_id: UUID | None, page: PageParams) -> Page[OperatorAuditEntry]:
        """The operators' audit entries, newest first; only those about `tenant_id` when given."""
        query = select(OperatorAuditEntry)
        if tenant_id is not None:
            query = query.where(OperatorAuditEntry.target_tenant_id == tenant_id)
        return await paginate(self.session, query.order_by(OperatorAuditEntry.created_at.desc()), page)

    async def describe(self, tenant: Tenant) -> TenantOut:
        return (await self.describe_many([tenant]))[0]

    async def describe_many(self, tenants: list[Tenant]) -> list[TenantOut]:
        ids = [t.id for t in tenants]
        domains: dict[UUID, list[DomainOut]] = defaultdict(list)
        rows = await self.session.execute(
            select(TenantDomain).where(TenantDomain.tenant_id.in_(ids)).order_by(TenantDomain.hostname)
        )
        for domain in rows.scalars():
            domains[domain.tenant_id].append(domain_out(domain))
        usage = await self._usage(ids)
        return [
            TenantOut(
                id=t.id,
                slug=t.slug,
                name=t.name,
                status=t.status,
                plan=t.plan,
                seats=t.seats,
                branding=t.branding,
                created_at=t.created_at,
                status_reason=t.status_reason,
                domains=domains[t.id],
                usage=usage[t.id],
            )
            for t in tenants
        ]

    async def _usage(self, ids: list[UUID]) -> dict[UUID, dict[str, int]]:
        counts: dict[UUID, dict[str, int]] = {i: {} for i in ids}
        if not ids:
            return counts
        for label, table in usage_models().items():
            for i in ids:
                counts[i][label] = 0
            rows = await self.session.execute(
                text(f"select tenant_id, count(*) from {table} where tenant_id = any(:ids) group by tenant_id"),
                {"ids": ids},
            )
            for tenant_id, count in rows:
                counts[tenant_id][label] = count
        return counts

    # --- writes ------------------------------------------------------------------------------
    async def create(
        self,
        slug: str,
        name: str,
        plan: Plan = Plan.TRIAL,
        seats: int = 0,
        branding: Branding | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Tenant:
        if slug in RESERVED_SLUGS:
            raise ValidationFailed(f"'{slug}' is reserved", field="slug")
        if await self.get_by_slug(slug) is not None:
            raise Conflict(f"a tenant with slug '{slug}' already exists", field="slug")
        tenant = Tenant(
            slug=slug,
            name=name,
            plan=plan,
            seats=seats,
            branding=msgspec.to_builtins(branding or Branding()),
            settings=settings or {},
            status=TenantStatus.ACTIVE,
        )
        self.session.add(tenant)
        await self._flush_or_conflict("slug", f"a tenant with slug '{slug}' already exists")
        await self.audit("tenant.create", tenant.id, None, tenant_snapshot(tenant))
        return tenant

    async def update(self, tenant: Tenant, **changes: Any) -> dict[str, Any]:
        """Apply field changes; returns {field: (old, new)} for what actually changed."""
        before = tenant_snapshot(tenant)
        changed: dict[str, Any] = {}
        for key, value in changes.items():
            if getattr(tenant, key) != value:
                changed[key] = (before.get(key), value)
                setattr(tenant, key, value)
        if changed:
            await self.session.flush()
            await self.audit("tenant.update", tenant.id, before, tenant_snapshot(tenant))
        return changed

    async def change(self, tenant_id: UUID, data: TenantUpdate) -> Tenant:
        """Change a tenant's name, plan, seats or branding (audited as tenant.update)."""
        tenant = await self.get(tenant_id)
        if tenant.status is TenantStatus.DELETED:
            raise Conflict("a deleted tenant cannot be changed")
        changes: dict[str, Any] = {}
        for field in ("name", "plan", "seats"):
            value = getattr(data, field)
            if value is not msgspec.UNSET:
                changes[field] = value
        if data.branding is not msgspec.UNSET:
            changes["branding"] = msgspec.to_builtins(data.branding)
        await self.update(tenant, **changes)
        return tenant

    async def suspend(self, tenant_id: UUID, reason: str) -> Tenant:
        tenant = await self.get(tenant_id)
        if tenant.status is TenantStatus.DELETED:
            raise Conflict("a deleted tenant cannot be suspended")
        return await self._set_status(tenant, TenantStatus.SUSPENDED, reason, "tenant.suspend")

    async def resume(self, tenant_id: UUID) -> Tenant:
        tenant = await self.get(tenant_id)
        if tenant.status is not TenantStatus.SUSPENDED:
            raise Conflict(f"only a suspended tenant can be resumed; this one is {tenant.status.value}")
        return await self._set_status(tenant, TenantStatus.ACTIVE, None, "tenant.resume")

    async def delete(self, tenant_id: UUID) -> Tenant:
        """Soft delete: the site disappears at once; data stays until the purge job runs."""
        tenant = await self.get(tenant_id)
        if tenant.status is TenantStatus.DELETED:
            return tenant
        tenant.deleted_at = clock.now()
        return await self._set_status(tenant, TenantStatus.DELETED, "deleted by operator", "tenant.delete")

    async def request_purge(self, tenant_id: UUID) -> Tenant:
        tenant = await self.get(tenant_id)
        if tenant.status is not TenantStatus.DELETED:
            raise Conflict("delete the tenant before purging it")
        await self.audit("tenant.purge_requested", tenant.id, None, None)
        enqueue_after_commit(self.session, PURGE_TASK, str(tenant.id))
        return tenant

    async def add_domain(self, tenant_id: UUID, hostname: str, primary: bool) -> TenantDomain:
        tenant = await self.get(tenant_id)
        if self.base_domain and (hostname == self.base_domain or hostname.endswith("." + self.base_domain)):
            raise ValidationFailed(
                f"hosts under {self.base_domain} are the platform's own; use the tenant slug instead",
                field="hostname",
            )
        if primary:
            await self.clear_primary(tenant.id)
        domain = TenantDomain(
            tenant_id=tenant.id,
            hostname=hostname,
            is_primary=primary,
            verified=False,
            verification_token=secrets.token_urlsafe(24),
        )
        self.session.add(domain)
        await self._flush_or_conflict("hostname", f"{hostname} is already in use")
        await self.audit("domain.add", tenant.id, None, {"hostname": hostname, "primary": primary})
        return domain

    async def verify_domain(self, tenant_id: UUID, hostname: str) -> TenantDomain:
        """Mark a domain verified once the operator has seen its TXT record."""
        domain = await self._domain(tenant_id, hostname)
        if not domain.verified:
            domain.verified = True
            domain.verified_at = clock.now()
            await self._flush_or_conflict("hostname", f"{hostname} is already verified by another tenant")
            await self.audit("domain.verify", tenant_id, {"verified": False}, {"hostname": hostname, "verified": True})
        return domain

    async def remove_domain(self, tenant_id: UUID, hostname: str) -> None:
        domain = await self._domain(tenant_id, hostname)
        await self.session.delete(domain)
        await self.session.flush()
        await self.audit("domain.remove", tenant_id, {"hostname": hostname}, None)

    async def audit(
        self, action: str, tenant_id: UUID | None, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        self.session.add(
            OperatorAuditEntry(
                operator_id=self.actor.operator_id,
                actor=self.actor.name,
                action=action,
                target_tenant_id=tenant_id,
                before=before,
                after=after,
                request_id=self.actor.request_id,
            )
        )
        await self.session.flush()

    # --- internals ---------------------------------------------------------------------------
    async def _set_status(self, tenant: Tenant, status: TenantStatus, reason: str | None, action: str) -> Tenant:
        before = tenant_snapshot(tenant)
        tenant.status = status
        tenant.status_reason = reason
        await self.session.flush()
        after = tenant_snapshot(tenant) | {"reason": reason}
        await self.audit(action, tenant.id, before, after)
        return tenant

    async def _domain(self, tenant_id: UUID, hostname: str) -> TenantDomain:
        domain = (
            await self.session.execute(
                select(TenantDomain).where(TenantDomain.tenant_id == tenant_id, TenantDomain.hostname == hostname)
            )
        ).scalar_one_or_none()
        if domain is None:
            raise NotFound(f"{hostname} is not a domain of this tenant", field="hostname")
        return domain

    async def clear_primary(self, tenant_id: UUID) -> None:
        rows = await self.session.execute(
            select(TenantDomain).where(TenantDomain.tenant_id == tenant_id, TenantDomain.is_primary)
        )
        for domain in rows.scalars():
            domain.is_primary = False
        await self.session.flush()

    async def _flush_or_conflict(self, field: str, message: str) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(message, field=field) from exc


def tenant_tables_in_purge_order() -> list[str]:
    """Tenant-owned tables, children first, so deleting in this order never trips a foreign key."""
    from lms.models import metadata  # every domain's models, not only those imported so far

    tables = [t for t in reversed(metadata.sorted_tables) if "tenant_id" in t.columns]
    return [t.name for t in tables]
