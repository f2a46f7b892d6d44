"""Custom domains run by tenant admins: claim a hostname, publish the DNS records shown, and the platform
verifies ownership by a DNS lookup, then re-checks it in the background with backoff.

Ownership is a TXT record `_lms-verify.<hostname>` holding the domain's token; traffic is a CNAME to the
tenant's platform host (or an A record to the platform's address), reported but not required to verify.
A verified domain that stops verifying keeps serving and is flagged (`lost_at`), never dropped silently.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import dns.asyncresolver
import dns.exception
import dns.resolver
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.tenancy.models import Tenant, TenantDomain, TenantStatus
from lms.tenancy.services.audit import AdminAudit, AuditActor

VERIFY_RECORD_PREFIX = "_lms-verify"
RECHECK_TASK = "tenancy.recheck_domains"
# A verified domain is looked at once a day; a failing one sooner, backing off from 5 minutes to a day.
RECHECK_VERIFIED = timedelta(hours=24)
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=24)
DNS_TIMEOUT_SECONDS = 3.0
MAX_DOMAINS_PER_TENANT = 20


@dataclass(frozen=True)
class DnsRecord:
    """A record the tenant's DNS administrator creates."""

    name: str
    type: str
    value: str
    purpose: str  # "ownership" or "traffic"


@dataclass(frozen=True)
class CheckResult:
    ownership: bool
    traffic: bool
    error: str | None


def expected_records(domain: TenantDomain, platform_host: str) -> list[DnsRecord]:
    return [
        DnsRecord(f"{VERIFY_RECORD_PREFIX}.{domain.hostname}", "TXT", domain.verification_token, "ownership"),
        DnsRecord(domain.hostname, "CNAME", platform_host, "traffic"),
    ]


def retry_delay(failed_checks: int) -> timedelta:
    """5 min, 10, 20, ... capped at a day."""
    delay: timedelta = FIRST_RETRY * (2 ** min(max(failed_checks - 1, 0), 16))
    return min(delay, LONGEST_RETRY)


def make_resolver(nameservers: tuple[str, ...]) -> dns.asyncresolver.Resolver:
    """The system's resolver, or the configured name servers ("ip" or "ip:port")."""
    if not nameservers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [server.rpartition(":")[0] if ":" in server else server for server in nameservers]
        ports = {int(server.rpartition(":")[2]) for server in nameservers if ":" in server}
        if ports:
            resolver.port = ports.pop()
    resolver.lifetime = DNS_TIMEOUT_SECONDS
    resolver.cache = None  # a re-check must see a record the admin has just fixed
    return resolver


async def look_up(resolver: dns.asyncresolver.Resolver, domain: TenantDomain, platform_host: str) -> CheckResult:
    """Ask DNS for the ownership TXT record and the traffic CNAME."""
    try:
        answer = await resolver.resolve(f"{VERIFY_RECORD_PREFIX}.{domain.hostname}", "TXT")
        texts = {b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer}
        ownership = domain.verification_token in texts
        error = None if ownership else "the TXT record does not hold this domain's token"
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        ownership, error = False, f"no TXT record at {VERIFY_RECORD_PREFIX}.{domain.hostname}"
    except dns.exception.DNSException as exc:
        ownership, error = False, f"DNS lookup failed: {exc.__class__.__name__}"
    try:
        cname = await resolver.resolve(domain.hostname, "CNAME")
        traffic = any(str(rdata.target).rstrip(".") == platform_host for rdata in cname)
    except dns.exception.DNSException:
        traffic = False
    return CheckResult(ownership, traffic, error)


def apply_check(domain: TenantDomain, result: CheckResult, now: datetime) -> str | None:
    """Record a check's outcome on the domain; returns the audit action when its state changed."""
    domain.last_checked_at = now
    if result.ownership:
        changed = "domain.verified" if not domain.verified else ("domain.recovered" if domain.lost_at else None)
        domain.verified = True
        domain.verified_at = domain.verified_at or now
        domain.lost_at = None
        domain.last_error = None
        domain.failed_checks = 0
        domain.next_check_at = now + RECHECK_VERIFIED
        return changed
    domain.failed_checks += 1
    domain.last_error = result.error
    domain.next_check_at = now + retry_delay(domain.failed_checks)
    if domain.verified and domain.lost_at is None:
        domain.lost_at = now
        return "domain.verification_lost"
    return None


class DomainOwners:
    """Which site holds a verified hostname: a platform-wide read, so on the operator role (RLS hides
    other tenants' rows from the site's own session)."""

    def __init__(self, db: Database, tenant_id: UUID) -> None:
        self.db = db
        self.tenant_id = tenant_id

    async def verified_elsewhere(self, hostname: str) -> bool:
        async with self.db.operator_sessions() as session:
            row = await session.execute(
                select(TenantDomain.id).where(
                    TenantDomain.hostname == hostname,
                    TenantDomain.verified.is_(True),
                    TenantDomain.tenant_id != self.tenant_id,
                )
            )
            return row.first() is not None


class DomainSelfService:
    """The current tenant's custom domains, as its admins manage them (RLS scopes the session)."""

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        platform_host: str,
        base_domain: str,
        resolver: dns.asyncresolver.Resolver,
        owners: DomainOwners,
        audit: AdminAudit | None,
    ) -> None:
        self.owners = owners
        self.session = session
        self.tenant_id = tenant_id
        self.platform_host = platform_host
        self.base_domain = base_domain
        self.resolver = resolver
        self.audit = audit

    async def domains(self) -> list[TenantDomain]:
        rows = await self.session.execute(select(TenantDomain).order_by(TenantDomain.created_at))
        return list(rows.scalars())

    async def get(self, hostname: str) -> TenantDomain:
        row = await self.session.execute(select(TenantDomain).where(TenantDomain.hostname == hostname))
        domain = row.scalar_one_or_none()
        if domain is None:
            raise NotFound("this site has no such domain", field="hostname")
        return domain

    async def add(self, hostname: str) -> TenantDomain:
        """Claim a hostname: unverified until DNS shows the token. Checked at once and then in the background."""
        hostname = hostname.strip().lower().rstrip(".")
        if self.base_domain and (hostname == self.base_domain or hostname.endswith("." + self.base_domain)):
            raise ValidationFailed(
                f"addresses under {self.base_domain} belong to the platform; your site already has one",
                field="hostname",
            )
        if len(await self.domains()) >= MAX_DOMAINS_PER_TENANT:
            raise Conflict(f"a site can have at most {MAX_DOMAINS_PER_TENANT} domains", field="hostname")
        domain = TenantDomain(
            tenant_id=self.tenant_id,
            hostname=hostname,
            verified=False,
            is_primary=False,
            verification_token=secrets.token_urlsafe(24),
            failed_checks=0,
            next_check_at=clock.now(),
        )
        self.session.add(domain)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"{hostname} is already a domain of this site", field="hostname") from exc
        if self.audit is not None:
            await self.audit.record("domain.added", "domain", domain.id, hostname)
        return domain

    async def check(self, hostname: str) -> TenantDomain:
        """Look the domain up in DNS now (the "Check now" button)."""
        domain = await self.get(hostname)
        await self._check(domain)
        return domain

    async def _check(self, domain: TenantDomain) -> None:
        result = await look_up(self.resolver, domain, self.platform_host)
        if result.ownership and not domain.verified and await self.owners.verified_elsewhere(domain.hostname):
            # Another site proved this hostname first: this claim stays unverified.
            result = CheckResult(False, result.traffic, "another site has already verified this domain")
        change = apply_check(domain, result, clock.now())
        await self.session.flush()
        if change is not None and self.audit is not None:
            await self.audit.record(change, "domain", domain.id, domain.hostname)

    async def check_due(self, now: datetime, limit: int = 100) -> int:
        """Re-check this tenant's domains whose next check is due (the background job)."""
        rows = await self.session.execute(
            select(TenantDomain)
            .where(TenantDomain.next_check_at <= now)
            .order_by(TenantDomain.next_check_at)
            .limit(limit)
        )
        due = list(rows.scalars())
        for domain in due:
            await self._check(domain)
        return len(due)

    async def remove(self, hostname: str) -> None:
        domain = await self.get(hostname)
        await self.session.delete(domain)
        await self.session.flush()
        if self.audit is not None:
            await self.audit.record(
                "domain.removed", "domain", domain.id, hostname, {"verified": domain.verified}, None
            )


async def recheck_due_domains(db: Database, settings: Settings, limit_per_tenant: int = 100) -> int:
    """The background job: every tenant with a domain check due gets its checks, in its own transaction.

    The due list is one platform-wide read on the operator role; each tenant's checks run bound to it.
    """
    now = clock.now()
    async with db.operator_sessions() as session:
        rows = await session.execute(
            select(TenantDomain.tenant_id, Tenant.slug)
            .join(Tenant, Tenant.id == TenantDomain.tenant_id)
            .where(TenantDomain.next_check_at <= now, Tenant.status == TenantStatus.ACTIVE)
            .distinct()
        )
        due = list(rows.all())
    resolver = make_resolver(settings.dns_nameservers)
    checked = 0
    for tenant_id, slug in due:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            audit = AdminAudit(session, tenant_id, AuditActor(label="automatic DNS check"))
            service = DomainSelfService(
                session,
                tenant_id,
                platform_host_of(slug, settings),
                settings.public_base_domain,
                resolver,
                DomainOwners(db, tenant_id),
                audit,
            )
            checked += await service.check_due(now, limit_per_tenant)
    return checked


def platform_host_of(slug: str, settings: Settings) -> str:
    """Where a custom domain's CNAME points: the tenant's own host under the platform domain."""
    return f"{slug}.{settings.public_base_domain}"
