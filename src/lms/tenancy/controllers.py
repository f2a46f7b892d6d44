"""Platform operator API under /api/v1/operator (operator credentials only), and the tenant admins' audit log."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from lms.billing.guards import requires_feature
from lms.billing.schemas import OverrideIn
from lms.billing.services.operators import apply_override
from lms.config import Settings
from lms.db.engines import Database
from lms.db.providers import DbSession
from lms.identity.accounts.services.onboarding import invite_first_admin
from lms.identity.guards import allows_anonymous, requires_role
from lms.identity.schemas import Role
from lms.lib.errors import ValidationFailed
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.lib.storage import Storage
from lms.tenancy.console.services import USAGE_DAYS, tenant_usage
from lms.tenancy.guards import requires_operator
from lms.tenancy.models import AdminAuditEntry, OperatorAuditEntry, TenantDomain, TenantStatus
from lms.tenancy.schemas import (
    AdminAuditEntryOut,
    AuditEntryOut,
    Branding,
    BrandingChange,
    DnsRecordOut,
    DomainClaim,
    DomainCreate,
    DomainOut,
    FirstAdminOut,
    ResolvedTenant,
    SiteDomainOut,
    StatusChange,
    TenantCreate,
    TenantOut,
    TenantUpdate,
    UsageDayOut,
    UsageOut,
)
from lms.tenancy.services import Actor, TenantAdmin, domain_out
from lms.tenancy.services.audit import AdminAudit, AuditFilter
from lms.tenancy.services.branding import MAX_LOGO_BYTES, BrandingSelfService, read_logo
from lms.tenancy.services.domains import (
    DomainOwners,
    DomainSelfService,
    expected_records,
    make_resolver,
    platform_host_of,
)


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
    async def create_tenant(
        self,
        admin: NamedDependency[TenantAdmin],
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        data: JSONBody[TenantCreate],
    ) -> TenantOut:
        """Create a tenant (slug, name, plan, seats, branding). With `admin_email`, its first tenant admin
        is created and sent the invitation e-mail; they land on the setup checklist after signing in."""
        if data.admin_name is not None and data.admin_email is None:
            raise ValidationFailed("admin_name needs admin_email", field="admin_email")
        tenant = await admin.create(data.slug, data.name, data.plan, data.seats, data.branding)
        if data.admin_email is None:
            return await admin.describe(tenant)
        # The account references the tenant row and is written under the tenant's RLS by lms_app:
        # the tenant is committed first (a failed invitation leaves a tenant without an admin, which
        # `lms users invite` or a second call can still fix; never an admin without a tenant).
        await admin.session.commit()
        invited = await invite_first_admin(
            database.app_sessions, settings, tenant.id, tenant.slug, data.admin_email, data.admin_name
        )
        await admin.audit("tenant.invite_first_admin", tenant.id, None, {"email": invited.email})
        out = await admin.describe(tenant)
        out.first_admin = FirstAdminOut(user_id=invited.user_id, email=invited.email, invited=True)
        return out

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

    @get("/tenants/{tenant_id:uuid}/usage")
    async def get_tenant_usage(
        self,
        admin: NamedDependency[TenantAdmin],
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        tenant_id: FromPath[UUID],
        days: Annotated[int, QueryParameter(ge=1, le=366)] = USAGE_DAYS,
    ) -> UsageOut:
        """The tenant's usage per day over the last `days` days (today last): seats used and licensed and the
        media storage from the daily seat snapshots, enrolments and completions from the course rollups."""
        await admin.get(tenant_id)  # 404 for an unknown tenant
        usage = await tenant_usage(database, settings, tenant_id, days)
        return UsageOut(
            tenant_id=tenant_id,
            days=[
                UsageDayOut(d.day, d.seats_used, d.seats_licensed, d.enrolments, d.completions, d.storage_bytes)
                for d in usage.days
            ],
        )

    @patch("/tenants/{tenant_id:uuid}")
    async def update_tenant(
        self,
        admin: NamedDependency[TenantAdmin],
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        tenant_id: FromPath[UUID],
        data: JSONBody[TenantUpdate],
    ) -> TenantOut:
        """Change a tenant's name, plan, seats or branding; only the fields sent change (audited). Plan and
        seats also go to the tenant's billing account, which is what its licence reads (a billing override,
        refused with 409 for the seats of a Stripe subscriber)."""
        tenant = await admin.change(tenant_id, data)
        if data.plan is not msgspec.UNSET or data.seats is not msgspec.UNSET:
            change = OverrideIn(
                reason="set with PATCH /api/v1/operator/tenants/{id}",
                plan=data.plan.value if data.plan is not msgspec.UNSET else None,
                seats=data.seats if data.seats is not msgspec.UNSET else None,
            )
            await apply_override(database, settings, tenant_id, admin.actor, change)
        return await admin.describe(tenant)

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

    @post(
        "/tenants/{tenant_id:uuid}/domains", status_code=HTTP_201_CREATED, guards=[requires_feature("custom_domains")]
    )
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


def admin_audit_entry_out(entry: AdminAuditEntry) -> AdminAuditEntryOut:
    return AdminAuditEntryOut(
        id=entry.id,
        created_at=entry.created_at,
        actor=entry.actor_label,
        actor_user_id=entry.actor_user_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        target=entry.target_label,
        before=entry.before,
        after=entry.after,
        request_id=entry.request_id,
    )


def provide_audit_filter(
    action: Annotated[str | None, QueryParameter(max_length=64)] = None,
    actor: FromQuery[UUID | None] = None,
    target_type: Annotated[str | None, QueryParameter(max_length=32)] = None,
    target_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    since: FromQuery[date | None] = None,
    until: FromQuery[date | None] = None,
) -> AuditFilter:
    """`audit_filter`: the log's filters from the query string (the API and the page share them).

    `since` and `until` are days (UTC), both included."""
    start = datetime.combine(since, time.min, UTC) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, UTC) if until else None
    return AuditFilter(action or None, actor, target_type or None, target_id or None, start, end)


class AdminAuditController(Controller):
    """Every administrative change in this site, for its tenant admins."""

    path = "/api/v1/admin/audit"
    guards = [requires_role(Role.TENANT_ADMIN)]
    dependencies = {"audit_filter": Provide(provide_audit_filter, sync_to_thread=False)}
    tags = ["administration"]

    @get("/")
    async def list_entries(
        self,
        audit: NamedDependency[AdminAudit],
        audit_filter: NamedDependency[AuditFilter],
        page: NamedDependency[PageParams],
    ) -> Page[AdminAuditEntryOut]:
        """Newest first; filter by `action`, `actor` (a user id), `target_type`, `target_id`, `since`, `until`."""
        entries, total = await audit.entries(audit_filter, page.limit, page.offset)
        return page.of([admin_audit_entry_out(e) for e in entries], total)

    @get("/export.csv", media_type="text/csv; charset=utf-8")
    async def export(
        self, audit: NamedDependency[AdminAudit], audit_filter: NamedDependency[AuditFilter]
    ) -> Response[str]:
        """The filtered log as CSV (at most 100,000 entries per export; cells are safe to open in a spreadsheet)."""
        return Response(
            await audit.export_csv(audit_filter),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )


def site_domain_out(domain: TenantDomain, platform_host: str) -> SiteDomainOut:
    status = "failing" if domain.lost_at else ("verified" if domain.verified else "pending")
    return SiteDomainOut(
        hostname=domain.hostname,
        status=status,
        verified_at=domain.verified_at,
        last_checked_at=domain.last_checked_at,
        next_check_at=domain.next_check_at,
        last_error=domain.last_error,
        records=[DnsRecordOut(r.name, r.type, r.value, r.purpose) for r in expected_records(domain, platform_host)],
    )


def provide_domain_service(
    db_session: DbSession,
    database: NamedDependency[Database],
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
    audit: NamedDependency[AdminAudit],
) -> DomainSelfService:
    return DomainSelfService(
        db_session,
        tenant.id,
        platform_host_of(tenant.slug, settings),
        settings.public_base_domain,
        make_resolver(settings.dns_nameservers),
        DomainOwners(database, tenant.id),
        audit,
    )


class SiteDomainsController(Controller):
    """A site's custom domains, for its tenant admins: claim, see the DNS records, check, remove."""

    path = "/api/v1/admin/domains"
    guards = [requires_role(Role.TENANT_ADMIN)]
    dependencies = {"domains": Provide(provide_domain_service, sync_to_thread=False)}
    tags = ["administration"]

    @get("/")
    async def list_domains(
        self, domains: NamedDependency[DomainSelfService], page: NamedDependency[PageParams]
    ) -> Page[SiteDomainOut]:
        """This site's custom domains, oldest first (a site has at most 20)."""
        return page.slice([site_domain_out(d, domains.platform_host) for d in await domains.domains()])

    @post("/", status_code=HTTP_201_CREATED, guards=[requires_feature("custom_domains")])
    async def add_domain(
        self, domains: NamedDependency[DomainSelfService], data: JSONBody[DomainClaim]
    ) -> SiteDomainOut:
        """Claim a hostname; DNS is checked at once and then in the background until it verifies."""
        domain = await domains.add(data.hostname)
        await domains.check(domain.hostname)
        return site_domain_out(domain, domains.platform_host)

    @post("/{hostname:str}/check", status_code=HTTP_200_OK)
    async def check_domain(
        self, domains: NamedDependency[DomainSelfService], hostname: Annotated[str, PathParameter(max_length=253)]
    ) -> SiteDomainOut:
        """Look the domain up in DNS now."""
        return site_domain_out(await domains.check(hostname), domains.platform_host)

    @delete("/{hostname:str}", status_code=HTTP_200_OK)
    async def remove_domain(
        self, domains: NamedDependency[DomainSelfService], hostname: Annotated[str, PathParameter(max_length=253)]
    ) -> dict[str, str]:
        """Remove a domain: the site stops answering on it within seconds."""
        await domains.remove(hostname)
        return {"status": "removed"}


def provide_branding_service(
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    storage: NamedDependency[Storage],
    audit: NamedDependency[AdminAudit],
) -> BrandingSelfService:
    return BrandingSelfService(db_session, tenant.id, storage, audit)


class SiteBrandingController(Controller):
    """A site's branding, for its tenant admins: colours (contrast-checked), language, sender name, logo."""

    path = "/api/v1/admin/branding"
    guards = [requires_role(Role.TENANT_ADMIN)]
    dependencies = {"branding": Provide(provide_branding_service, sync_to_thread=False)}
    tags = ["administration"]

    @get("/")
    async def read_branding(self, branding: NamedDependency[BrandingSelfService]) -> Branding:
        """The site's current branding (absent fields use the platform's defaults)."""
        return await branding.current()

    @patch("/")
    async def change_branding(
        self, request: AppRequest, branding: NamedDependency[BrandingSelfService], data: JSONBody[BrandingChange]
    ) -> Branding:
        """Change the fields given; an empty string restores a default. Low-contrast colours: 422 with the ratio."""
        changed = await branding.change(data)
        request.app.state.tenant_resolver.invalidate()
        return changed

    @put("/logo", request_max_body_size=MAX_LOGO_BYTES + 1)
    async def upload_logo(
        self, request: AppRequest, branding: NamedDependency[BrandingSelfService], body: RawBody
    ) -> Branding:
        """Upload the logo (the body is a PNG, JPEG or WebP image of at most 512 KB; SVG is refused)."""
        changed = await branding.upload_logo(body)
        request.app.state.tenant_resolver.invalidate()
        return changed

    @delete("/logo", status_code=HTTP_200_OK)
    async def remove_logo(self, request: AppRequest, branding: NamedDependency[BrandingSelfService]) -> Branding:
        """Go back to the platform's logo."""
        changed = await branding.remove_logo()
        request.app.state.tenant_resolver.invalidate()
        return changed


class BrandLogoController(Controller):
    """The site's uploaded logo, on its own host (pages show it to everyone, signed in or not)."""

    path = "/brand/logo"
    guards = [allows_anonymous("a site's logo is public: every page shows it, including the sign-in page")]
    include_in_schema = False

    @get("/{name:str}", media_type="application/octet-stream")
    async def logo(
        self,
        tenant: NamedDependency[ResolvedTenant],
        storage: NamedDependency[Storage],
        name: Annotated[str, PathParameter(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")],
    ) -> Response[bytes]:
        data, content_type = read_logo(storage, tenant.id, name)
        # The name is derived from the content: a new logo is a new name, so this one never changes.
        return Response(data, media_type=content_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})
