"""Platform operator API under /api/v1/operator (operator credentials only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from lms.config import Settings
from lms.db.engines import Database
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.tenancy.guards import requires_operator
from lms.tenancy.models import OperatorAuditEntry, TenantStatus
from lms.tenancy.schemas import (
    AuditEntryOut,
    DomainCreate,
    DomainOut,
    StatusChange,
    TenantCreate,
    TenantOut,
    TenantUpdate,
)
from lms.tenancy.services import Actor, TenantAdmin, domain_out


async def provide_tenant_admin(
    request: AppRequest, database: NamedDependency[Database], settings: NamedDependency[Settings]
) -> AsyncGenerator[TenantAdmin, None]:
    """An operator-role session for one request: committed on success, resolver cache refreshed."""
    operator = request.state.operator
    actor = Actor(name=operator.email, operator_id=operator.id, request_id=request.scope["state"].get("request_id"))
    async with database.operator_sessions() as session:
        try:
            yield TenantAdmin(session, actor, settings.public_base_domain)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    request.app.state.tenant_resolver.invalidate()


class OperatorController(Controller):
    path = "/api/v1/operator"
    guards = [requires_operator]
    dependencies = {
        "admin": Provide(provide_tenant_admin),
    }
    tags = ["operator"]

    @post("/tenants", status_code=HTTP_201_CREATED)
    async def create_tenant(self, admin: NamedDependency[TenantAdmin], data: JSONBody[TenantCreate]) -> TenantOut:
        """Create a tenant (slug, name, plan, seats, branding)."""
        tenant = await admin.create(data.slug, data.name, data.plan, data.seats, data.branding)
        return await admin.describe(tenant)

    @get("/tenants")
    async def list_tenants(
        self,
        admin: NamedDependency[TenantAdmin],
        page: NamedDependency[PageParams],
        status: FromQuery[TenantStatus | None] = None,
    ) -> Page[TenantOut]:
        """Every tenant, with domains and usage counts; filter by `status`."""
        items, total = await admin.list_tenants(status, page.limit, page.offset)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/tenants/{tenant_id:uuid}")
    async def get_tenant(self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID]) -> TenantOut:
        """One tenant."""
        return await admin.describe(await admin.get(tenant_id))

    @patch("/tenants/{tenant_id:uuid}")
    async def update_tenant(
        self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID], data: JSONBody[TenantUpdate]
    ) -> TenantOut:
        """Change a tenant's name, plan, seats or branding; only the fields sent change (audited)."""
        return await admin.describe(await admin.change(tenant_id, data))

    @post("/tenants/{tenant_id:uuid}/suspend", status_code=HTTP_200_OK)
    async def suspend_tenant(
        self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID], data: JSONBody[StatusChange]
    ) -> TenantOut:
        """Suspend a tenant: its site answers 403 until resumed."""
        return await admin.describe(await admin.suspend(tenant_id, data.reason))

    @post("/tenants/{tenant_id:uuid}/resume", status_code=HTTP_200_OK)
    async def resume_tenant(self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID]) -> TenantOut:
        """Resume a suspended tenant."""
        return await admin.describe(await admin.resume(tenant_id))

    @delete("/tenants/{tenant_id:uuid}", status_code=HTTP_200_OK)
    async def delete_tenant(self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID]) -> TenantOut:
        """Soft delete: the site answers 404 at once; the data is kept until purged."""
        return await admin.describe(await admin.delete(tenant_id))

    @post("/tenants/{tenant_id:uuid}/purge", status_code=HTTP_202_ACCEPTED)
    async def purge_tenant(self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID]) -> dict[str, str]:
        """Queue a job that deletes every row of a deleted tenant."""
        tenant = await admin.request_purge(tenant_id)
        return {"status": "purge queued", "tenant_id": str(tenant.id)}

    @post("/tenants/{tenant_id:uuid}/domains", status_code=HTTP_201_CREATED)
    async def add_domain(
        self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID], data: JSONBody[DomainCreate]
    ) -> DomainOut:
        """Add a custom domain to a tenant; the answer carries the TXT record to publish."""
        return domain_out(await admin.add_domain(tenant_id, data.hostname, data.primary))

    @post("/tenants/{tenant_id:uuid}/domains/{hostname:str}/verify", status_code=HTTP_200_OK)
    async def verify_domain(
        self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID], hostname: FromPath[str]
    ) -> DomainOut:
        """Mark a custom domain verified once its TXT record `_lms-verify.<hostname>` is seen."""
        return domain_out(await admin.verify_domain(tenant_id, hostname.lower()))

    @delete("/tenants/{tenant_id:uuid}/domains/{hostname:str}", status_code=HTTP_200_OK)
    async def remove_domain(
        self, admin: NamedDependency[TenantAdmin], tenant_id: FromPath[UUID], hostname: FromPath[str]
    ) -> dict[str, str]:
        """Remove a custom domain from a tenant."""
        await admin.remove_domain(tenant_id, hostname.lower())
        return {"status": "removed", "hostname": hostname.lower()}

    @get("/audit")
    async def audit_log(
        self,
        admin: NamedDependency[TenantAdmin],
        page: NamedDependency[PageParams],
        tenant_id: FromQuery[UUID | None] = None,
    ) -> Page[AuditEntryOut]:
        """The operators' audit log, newest first; filter by `tenant_id`."""
        entries = await admin.audit_log(tenant_id, page)
        return page.of([audit_entry_out(e) for e in entries.items], entries.total)


def audit_entry_out(e: OperatorAuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=e.id,
        actor=e.actor,
        action=e.action,
        target_tenant_id=e.target_tenant_id,
        before=e.before,
        after=e.after,
        created_at=e.created_at,
        request_id=e.request_id,
    )
