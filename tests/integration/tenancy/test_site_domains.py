"""A tenant admin adds a custom domain, publishes the DNS records the site shows, and the platform
verifies it by looking DNS up (against a local authoritative server here); a domain that stops
verifying is flagged and keeps serving; nobody can take another site's verified domain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.config import Settings
from lms.db.engines import Database
from lms.lib import clock
from lms.tenancy.services.domains import recheck_due_domains
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.dns_server import LocalDns, local_dns
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


@pytest.fixture
def dns_server(app: Litestar) -> Iterator[LocalDns]:
    """The app asks this server (as an operator's DNS_NAMESERVERS would point it at a resolver)."""
    with local_dns() as server:
        original = app.state.settings
        app.state.settings = replace(original, dns_nameservers=(server.nameserver,))
        try:
            yield server
        finally:
            app.state.settings = original


async def test_admin_adds_a_domain_that_verifies_once_dns_has_the_token(
    client: Client, dns_server: LocalDns, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)

    added = await client.post(f"{site}/api/v1/admin/domains", json={"hostname": "learn.acme.test"}, headers=headers)
    assert added.status_code == 201, added.text
    domain = added.json()
    assert domain["status"] == "pending"
    assert "no TXT record" in domain["last_error"]
    txt, cname = domain["records"]
    assert (txt["name"], txt["type"], txt["purpose"]) == ("_lms-verify.learn.acme.test", "TXT", "ownership")
    assert (cname["name"], cname["type"], cname["value"]) == ("learn.acme.test", "CNAME", f"{tenant.slug}.lms.test")
    # Not served while unverified.
    assert (await client.get("http://learn.acme.test/sign-in")).status_code == 404

    dns_server.publish(txt["name"], "TXT", f'"{txt["value"]}"')
    dns_server.publish("learn.acme.test", "CNAME", f"{tenant.slug}.lms.test.")
    checked = await client.post(f"{site}/api/v1/admin/domains/learn.acme.test/check", headers=headers)
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "verified"
    assert checked.json()["last_error"] is None

    served = await client.get("http://learn.acme.test/sign-in")
    assert served.status_code == 200
    assert "Acme Corp" in served.text

    audit = (await client.get(f"{site}/api/v1/admin/audit", headers=headers)).json()["items"]
    assert [e["action"] for e in audit][:2] == ["domain.verified", "domain.added"]


async def test_a_domain_that_stops_verifying_is_flagged_and_rechecked_with_backoff(
    client: Client,
    db: Database,
    app: Litestar,
    dns_server: LocalDns,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)
    added = (
        await client.post(f"{site}/api/v1/admin/domains", json={"hostname": "lms.globex.test"}, headers=headers)
    ).json()
    txt = added["records"][0]
    dns_server.publish(txt["name"], "TXT", f'"{txt["value"]}"')
    assert (await client.post(f"{site}/api/v1/admin/domains/lms.globex.test/check", headers=headers)).json()[
        "status"
    ] == "verified"

    dns_server.withdraw(txt["name"], "TXT")
    settings: Settings = app.state.settings
    a_day_later = clock.now() + timedelta(days=1, minutes=1)
    with clock.clock_set_to(lambda: a_day_later):
        assert await recheck_due_domains(db, settings) >= 1
    [domain] = (await client.get(f"{site}/api/v1/admin/domains", headers=headers)).json()["items"]
    assert domain["status"] == "failing"
    assert "no TXT record" in domain["last_error"]
    retry_in = datetime.fromisoformat(domain["next_check_at"]) - a_day_later
    assert timedelta(minutes=4) < retry_in <= timedelta(minutes=5)
    # Flagged, not dropped: the site still answers on it.
    assert (await client.get("http://lms.globex.test/sign-in")).status_code == 200

    dns_server.publish(txt["name"], "TXT", f'"{txt["value"]}"')
    with clock.clock_set_to(lambda: a_day_later + timedelta(minutes=6)):
        await recheck_due_domains(db, settings)
    [domain] = (await client.get(f"{site}/api/v1/admin/domains", headers=headers)).json()["items"]
    assert domain["status"] == "verified"
    actions = [e["action"] for e in (await client.get(f"{site}/api/v1/admin/audit", headers=headers)).json()["items"]]
    assert actions[:2] == ["domain.recovered", "domain.verification_lost"]


async def test_no_site_can_take_a_domain_another_site_has_verified(
    client: Client, dns_server: LocalDns, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    owner, squatter = await make_tenant(name="Initech"), await make_tenant(name="Squatter")
    owner_headers = await login(await make_user(owner, roles=["tenant_admin"]))
    squatter_headers = await login(await make_user(squatter, roles=["tenant_admin"]))

    # A claim first does not block the real owner: claims are per site, verification is unique.
    early = await client.post(
        f"{host(squatter)}/api/v1/admin/domains", json={"hostname": "learn.initech.test"}, headers=squatter_headers
    )
    assert early.status_code == 201
    claim = await client.post(
        f"{host(owner)}/api/v1/admin/domains", json={"hostname": "learn.initech.test"}, headers=owner_headers
    )
    assert claim.status_code == 201
    txt = claim.json()["records"][0]
    dns_server.publish(txt["name"], "TXT", f'"{txt["value"]}"', f'"{early.json()["records"][0]["value"]}"')

    ok = await client.post(f"{host(owner)}/api/v1/admin/domains/learn.initech.test/check", headers=owner_headers)
    assert ok.json()["status"] == "verified"
    refused = await client.post(
        f"{host(squatter)}/api/v1/admin/domains/learn.initech.test/check", headers=squatter_headers
    )
    assert refused.json()["status"] == "pending"
    assert refused.json()["last_error"] == "another site has already verified this domain"
    assert "Initech" in (await client.get("http://learn.initech.test/sign-in")).text

    twice = await client.post(
        f"{host(owner)}/api/v1/admin/domains", json={"hostname": "learn.initech.test"}, headers=owner_headers
    )
    assert twice.status_code == 409
    assert twice.json()["error"]["field"] == "hostname"


async def test_bad_hostnames_and_other_people_are_refused(
    client: Client, dns_server: LocalDns, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)
    for bad in ["not a host", "-x.test", "a" * 300 + ".test", "localhost"]:
        response = await client.post(f"{site}/api/v1/admin/domains", json={"hostname": bad}, headers=headers)
        assert response.status_code in (400, 422), (bad, response.text)
        assert "hostname" in response.text
    platform = await client.post(f"{site}/api/v1/admin/domains", json={"hostname": "x.lms.test"}, headers=headers)
    assert platform.status_code == 422
    assert platform.json()["error"]["field"] == "hostname"
    await client.post(f"{site}/api/v1/admin/domains", json={"hostname": "learn.hooli.test"}, headers=headers)

    learner = await login(await make_user(tenant, roles=["learner", "instructor"]))
    assert (await client.get(f"{site}/api/v1/admin/domains", headers=learner)).status_code == 403
    other_admin = await login(await make_user(other, roles=["tenant_admin"]))
    assert (await client.get(f"{host(other)}/api/v1/admin/domains", headers=other_admin)).json()["items"] == []
    gone = await client.delete(f"{host(other)}/api/v1/admin/domains/learn.hooli.test", headers=other_admin)
    assert gone.status_code == 404
    removed = await client.delete(f"{site}/api/v1/admin/domains/learn.hooli.test", headers=headers)
    assert removed.status_code == 200
    assert (await client.get(f"{site}/api/v1/admin/domains", headers=headers)).json()["total"] == 0


async def test_admin_adds_and_removes_a_domain_from_the_page(
    client: Client, dns_server: LocalDns, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    site = secure_host(tenant)
    headers = browser_headers(await bearer(login, admin))

    empty = await client.get(f"{site}/admin/domains", headers=headers)
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/html")
    assert "No custom domain yet" in empty.text

    wrong = await client.post(
        f"{site}/admin/domains", data={"hostname": "not a domain", "csrf_token": CSRF}, headers=headers
    )
    assert wrong.status_code == 422
    assert "Enter a domain name like learn.example.com." in wrong.text

    added = await client.post(
        f"{site}/admin/domains",
        data={"hostname": "Learn.Umbrella.test", "csrf_token": CSRF},
        headers=headers,
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    listed = await client.get(f"{site}/admin/domains", headers=headers)
    assert "learn.umbrella.test" in listed.text
    assert "_lms-verify.learn.umbrella.test" in listed.text
    assert "Waiting for DNS" in listed.text

    german = await client.get(f"{site}/admin/domains", headers={**headers, "Accept-Language": "de"})
    assert "Waiting for DNS" not in german.text

    removed = await client.post(
        f"{site}/admin/domains/learn.umbrella.test/remove",
        data={"csrf_token": CSRF},
        headers=headers,
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert "No custom domain yet" in (await client.get(f"{site}/admin/domains", headers=headers)).text

    learner = browser_headers(await bearer(login, await make_user(tenant, roles=["learner"])))
    assert (await client.get(f"{site}/admin/domains", headers=learner, follow_redirects=False)).status_code in (
        401,
        403,
    )


async def test_the_added_message_shows_once(
    client: Client, dns_server: LocalDns, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    site = secure_host(tenant)
    headers = browser_headers(await bearer(login, await make_user(tenant, roles=["tenant_admin"])))

    added = await client.post(
        f"{site}/admin/domains",
        data={"csrf_token": CSRF, "hostname": "learn.once.test"},
        headers=headers,
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    shown = await client.get(f"{site}{added.headers['location']}", headers=headers)
    assert "learn.once.test" in shown.text
    assert shown.text.count("The domain is added.") == 1
    assert 'class="admin-nav"' in shown.text
    removed = await client.get(f"{site}/admin/domains?done=removed", headers=headers)
    assert removed.text.count("The domain is removed.") == 1
