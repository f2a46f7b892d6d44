"""app.resolve_tenant is SECURITY DEFINER: it must reveal one tenant for an exact host, nothing more."""

from __future__ import annotations

from sqlalchemy import text

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.services import Actor, TenantAdmin
from tests.conftest import MakeTenant
from tests.support import TEST_BASE_DOMAIN

RESOLVE = text("select * from app.resolve_tenant(:host, :base)")


async def test_resolves_subdomain_and_verified_domain_only(db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN)
        await admin.add_domain(tenant.id, f"verified-{tenant.slug}.example.com", primary=True)
        await admin.verify_domain(tenant.id, f"verified-{tenant.slug}.example.com")
        await admin.add_domain(tenant.id, f"pending-{tenant.slug}.example.com", primary=False)

    async with tenant_session(db.app_sessions, None) as session:

        async def resolve(host: str) -> list[object]:
            return list((await session.execute(RESOLVE, {"host": host, "base": TEST_BASE_DOMAIN})).all())

        by_subdomain = await resolve(f"{tenant.slug}.{TEST_BASE_DOMAIN}")
        by_domain = await resolve(f"VERIFIED-{tenant.slug}.example.com")
        pending = await resolve(f"pending-{tenant.slug}.example.com")
        wildcard = await resolve("%")
        partial = await resolve(f"{tenant.slug}")
        # the domain table itself stays invisible to the app without a bound tenant
        domains = (await session.execute(text("select count(*) from tenant_domains"))).scalar_one()

    assert [r.id for r in by_subdomain] == [tenant.id]
    assert [r.id for r in by_domain] == [tenant.id]
    assert pending == []
    assert wildcard == []
    assert partial == []
    assert domains == 0
