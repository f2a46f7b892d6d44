"""A tenant admin sets up single sign-on from the console pages: an OpenID provider (the redirect URI
shown before saving), a SAML provider from its metadata, "SSO required", and a test sign-in that shows
what the provider asserted without creating anyone or signing anyone in."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import SsoProvider, User
from lms.tenancy.models import Plan, Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.idp.oidc_provider import OpenIDProvider, Person
from tests.idp.saml_idp import SamlIdentityProvider, hidden_fields
from tests.integration.identity.conftest import post_acs
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]
SECRET = "s3cret-never-shown-again"


def oidc_form(provider: OpenIDProvider, client_id: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": CSRF,
        "name": "Acme Login",
        "issuer": f"{provider.issuer}/.well-known/openid-configuration",
        "client_id": client_id,
        "client_secret": SECRET,
        "token_endpoint_auth_method": "client_secret_post",
        "scopes": "openid email profile",
        "email_domains": "acme.com",
        "enabled": "on",
        "map_email": "email",
        "map_name": "name",
        "map_groups": "groups",
        "map_email_verified": "email_verified",
        "group_roles": "lms-instructors = instructor",
        "default_roles": "learner",
    }
    form.update(changes)
    return form


async def admin_of(
    make_tenant: MakeTenant, make_user: MakeUser, login: Login, **fields: Any
) -> tuple[Tenant, dict[str, str]]:
    """A site and its admin's browser headers (session and CSRF cookies)."""
    tenant = await make_tenant(**fields)
    admin = await make_user(tenant, roles=["tenant_admin"])
    return tenant, browser_headers(await bearer(login, admin))


def api_headers(page_headers: dict[str, str]) -> dict[str, str]:
    session = re.search(r"lms_session=([^;]+)", page_headers["Cookie"])
    assert session is not None
    return {"Authorization": f"Bearer {session.group(1)}"}


async def users_named(db: Database, tenant: Tenant, email: str) -> int:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return int((await session.execute(select(func.count()).where(User.email == email))).scalar_one())


async def only_provider(db: Database, tenant: Tenant) -> SsoProvider:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return (await session.execute(select(SsoProvider))).scalar_one()


@pytest.mark.usefixtures("trusts_local_provider")
async def test_admin_adds_an_oidc_provider_and_tests_it_without_signing_anyone_in(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, provider: OpenIDProvider
) -> None:
    tenant, headers = await admin_of(make_tenant, make_user, login)
    base = secure_host(tenant)

    empty = await client.get(f"{base}/admin/sso", headers=headers)
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/html")
    assert "No sign-in provider yet" in empty.text

    form_page = await client.get(f"{base}/admin/sso/oidc/new", headers=headers)
    assert form_page.status_code == 200
    redirect_uri = re.search(r'id="redirect-uri">([^<]+)<', form_page.text)
    assert redirect_uri is not None
    assert redirect_uri.group(1) == f"https://{tenant.slug}.{base.split('.', 1)[1]}/auth/oidc/callback"

    # Every field wrong at once: each is named in the summary and next to the field; nothing is saved.
    wrong = await client.post(
        f"{base}/admin/sso/oidc/new",
        data=oidc_form(
            provider,
            "",
            name="",
            issuer="ftp://nowhere",
            email_domains="not a domain",
            group_roles="admins = king",
            scopes="email",
        ),
        headers=headers,
    )
    assert wrong.status_code == 422
    for message in (
        "Enter a name people will recognise, such as Acme Login.",
        "Enter a web address that starts with https://.",
        "Enter the client ID the provider gave you.",
        "Enter domains like example.com, separated by commas.",
        "Write one group per line as group = role",
        "The scopes must include openid.",
    ):
        assert wrong.text.count(message) == 2, message
    assert 'href="#issuer"' in wrong.text
    assert SECRET not in wrong.text

    client_id = f"lms-{tenant.slug}"
    provider.add_client(client_id, SECRET, [redirect_uri.group(1)], "client_secret_post")
    saved = await client.post(
        f"{base}/admin/sso/oidc/new", data=oidc_form(provider, client_id), headers=headers, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/admin/sso?done=added"
    listed = await client.get(f"{base}/admin/sso", headers=headers)
    assert "Acme Login" in listed.text
    stored = await only_provider(db, tenant)
    assert stored.config["issuer"] == provider.issuer
    assert stored.secret_encrypted is not None

    # The secret is never shown again, and saving without it keeps it.
    edit = await client.get(f"{base}/admin/sso/{stored.id}/oidc", headers=headers)
    assert edit.status_code == 200
    assert SECRET not in edit.text
    assert "A secret is stored. Leave this empty to keep it." in edit.text
    kept = await client.post(
        f"{base}/admin/sso/{stored.id}/oidc",
        data=oidc_form(provider, client_id, client_secret="", name="Acme Staff"),
        headers=headers,
        follow_redirects=False,
    )
    assert kept.status_code == 303, kept.text
    assert (await only_provider(db, tenant)).secret_encrypted == stored.secret_encrypted

    provider.add_person(Person("u-tess", "pw-tess", "tess@acme.com", "Tess Tester", ["lms-instructors"]))
    start = await client.post(
        f"{base}/admin/sso/{stored.id}/test", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert start.status_code == 303
    assert start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.post(
            start.headers["location"], data={"username": "tess@acme.com", "password": "pw-tess"}
        )
    callback = at_provider.headers["location"]
    finished = await client.get(callback, follow_redirects=False)
    assert finished.status_code == 303, finished.text
    assert "lms_session" not in finished.headers.get("set-cookie", "")
    result_path = finished.headers["location"]
    assert result_path.startswith(f"/admin/sso/{stored.id}/test/")

    result = await client.get(f"{base}{result_path}", headers=headers)
    assert result.status_code == 200
    assert "nobody was signed in" in result.text
    assert "tess@acme.com" in result.text
    assert "Tess Tester" in result.text
    assert "u-tess" in result.text
    assert "Instructor" in result.text
    assert await users_named(db, tenant, "tess@acme.com") == 0

    # A mapping that names a claim the provider does not send: the test says a real sign-in would fail.
    remapped = await client.post(
        f"{base}/admin/sso/{stored.id}/oidc",
        data=oidc_form(provider, client_id, client_secret="", name="Acme Staff", map_email="mail"),
        headers=headers,
        follow_redirects=False,
    )
    assert remapped.status_code == 303, remapped.text
    again = await client.post(
        f"{base}/admin/sso/{stored.id}/test", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.post(
            again.headers["location"], data={"username": "tess@acme.com", "password": "pw-tess"}
        )
    refused = await client.get(at_provider.headers["location"], follow_redirects=False)
    problem = await client.get(f"{base}{refused.headers['location']}", headers=headers)
    assert "A real sign-in with this answer would be refused." in problem.text
    assert "no e-mail address in &#39;mail&#39;" in problem.text
    german = await client.get(f"{base}/admin/sso", headers={**headers, "Accept-Language": "de"})
    assert "Testanmeldung" in german.text
    assert "Test sign-in" not in german.text

    # Only the admin who ran the test sees its answer.
    other_admin = browser_headers(await bearer(login, await make_user(tenant, roles=["tenant_admin"])))
    assert (await client.get(f"{base}{result_path}", headers=other_admin)).status_code == 404

    # The audit log names the provider, never its settings.
    audit = await client.get(f"{base}/api/v1/admin/audit", headers=api_headers(headers))
    assert audit.status_code == 200, audit.text
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert "sso.provider_created" in actions
    assert "sso.provider_updated" in actions
    assert SECRET not in audit.text


@pytest.mark.usefixtures("trusts_local_idp")
async def test_admin_adds_a_saml_provider_from_metadata_and_tests_it(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, idp: SamlIdentityProvider
) -> None:
    tenant, headers = await admin_of(make_tenant, make_user, login)
    base = secure_host(tenant)
    common = {
        "csrf_token": CSRF,
        "name": "Acme SAML",
        "email_domains": "acme.com",
        "map_email": "urn:mace:dir:attribute-def:email",
        "map_name": "urn:mace:dir:attribute-def:displayName",
        "map_groups": "groups",
        "map_email_verified": "email_verified",
        "default_roles": "learner",
        "trust_unverified_email": "on",
    }
    neither = await client.post(f"{base}/admin/sso/saml/new", data=common, headers=headers)
    assert neither.status_code == 422
    assert "Enter the metadata URL, or upload or paste the XML document." in neither.text
    broken = await client.post(
        f"{base}/admin/sso/saml/new", data={**common, "metadata_xml": "<not-metadata/>"}, headers=headers
    )
    assert broken.status_code in (400, 422)
    assert 'href="#metadata_xml"' in broken.text
    assert "&lt;not-metadata/&gt;</textarea>" in broken.text

    uploaded = await client.post(
        f"{base}/admin/sso/saml/new",
        data=common,
        files={"metadata_file": ("idp.xml", idp.metadata().encode(), "application/xml")},
        headers=headers,
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text
    edit = await client.get(f"{base}{uploaded.headers['location']}", headers=headers)
    assert "Download the metadata (XML)" in edit.text
    stored = await only_provider(db, tenant)
    assert f"/auth/saml/{stored.id}/acs" in edit.text
    assert "PRIVATE KEY" not in edit.text
    metadata = await client.get(f"{base}/auth/saml/{stored.id}/metadata")
    idp.trust_sp(metadata.text)

    # Changing other settings keeps the stored IdP metadata when none is given again.
    renamed = await client.post(
        f"{base}/admin/sso/{stored.id}/saml",
        data={**common, "name": "Acme Directory"},
        headers=headers,
        follow_redirects=False,
    )
    assert renamed.status_code == 303, renamed.text
    changed = await only_provider(db, tenant)
    assert changed.name == "Acme Directory"
    assert changed.config["idp"] == stored.config["idp"]
    assert changed.config["sp_cert"] == stored.config["sp_cert"]

    start = await client.post(
        f"{base}/admin/sso/{stored.id}/test", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert start.status_code == 303
    async with httpx.AsyncClient() as browser:
        at_idp = await browser.post(start.headers["location"], data={"username": "ada@acme.com", "password": "pw-ada"})
    form = hidden_fields(at_idp.text)
    finished = await post_acs(client, form["_action"], form["SAMLResponse"], form["RelayState"])
    assert finished.status_code == 303, finished.text
    assert "lms_session" not in finished.headers.get("set-cookie", "")
    result = await client.get(f"{base}{finished.headers['location']}", headers=headers)
    assert result.status_code == 200
    assert "ada@acme.com" in result.text
    assert "urn:mace:dir:attribute-def:displayName" in result.text
    assert await users_named(db, tenant, "ada@acme.com") == 0


@pytest.mark.usefixtures("trusts_local_provider")
async def test_sso_required_needs_an_enabled_provider_and_is_audited(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, provider: OpenIDProvider
) -> None:
    tenant, headers = await admin_of(make_tenant, make_user, login)
    base = secure_host(tenant)
    refused = await client.post(
        f"{base}/admin/sso/required", data={"csrf_token": CSRF, "sso_required": "on"}, headers=headers
    )
    assert refused.status_code == 409
    assert "Switch on a sign-in provider before you require single sign-on." in refused.text

    client_id = f"lms-{tenant.slug}"
    added = await client.post(
        f"{base}/admin/sso/oidc/new", data=oidc_form(provider, client_id), headers=headers, follow_redirects=False
    )
    assert added.status_code == 303, added.text
    required = await client.post(
        f"{base}/admin/sso/required",
        data={"csrf_token": CSRF, "sso_required": "on"},
        headers=headers,
        follow_redirects=False,
    )
    assert required.status_code == 303
    discovered = await client.get(f"{base}/api/v1/auth/discover", params={"email": "bob@elsewhere.org"})
    assert discovered.json()["method"] == "sso_unavailable"
    page = await client.get(f"{base}/admin/sso?done=required", headers=headers)
    assert 'name="sso_required" checked' in page.text

    # A form without the page's CSRF token changes nothing.
    forged = await client.post(f"{base}/admin/sso/required", data={"csrf_token": "stale"}, headers=headers)
    assert forged.status_code == 403
    assert 'name="sso_required" checked' in (await client.get(f"{base}/admin/sso", headers=headers)).text
    optional = await client.post(
        f"{base}/admin/sso/required", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert optional.status_code == 303
    discovered = await client.get(f"{base}/api/v1/auth/discover", params={"email": "bob@elsewhere.org"})
    assert discovered.json()["method"] == "password"
    audit = await client.get(
        f"{base}/api/v1/admin/audit", params={"action": "settings.sso_required_changed"}, headers=api_headers(headers)
    )
    assert [(e["before"], e["after"]) for e in audit.json()["items"]] == [
        ({"sso_required": True}, {"sso_required": False}),
        ({"sso_required": False}, {"sso_required": True}),
    ]

    # The JSON API reads and writes the same setting through the same service.
    api = api_headers(headers)
    assert (await client.get(f"{base}/api/v1/sso/settings", headers=api)).json() == {"required": False}
    put = await client.put(f"{base}/api/v1/sso/settings", json={"required": True}, headers=api)
    assert put.status_code == 200, put.text
    assert (await client.get(f"{base}/api/v1/sso/settings", headers=api)).json() == {"required": True}
    bad = await client.put(f"{base}/api/v1/sso/settings", json={"required": "yes"}, headers=api)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "required"
    await client.put(f"{base}/api/v1/sso/settings", json={"required": False}, headers=api)

    stored = await only_provider(db, tenant)
    confirm = await client.get(f"{base}/admin/sso/{stored.id}/remove", headers=headers)
    assert confirm.status_code == 200
    assert "Remove Acme Login?" in confirm.text
    removed = await client.post(
        f"{base}/admin/sso/{stored.id}/remove", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert removed.status_code == 303
    assert "No sign-in provider yet" in (await client.get(f"{base}/admin/sso", headers=headers)).text


async def test_pages_are_for_this_sites_admins_and_plans_with_sso(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, headers = await admin_of(make_tenant, make_user, login)
    other, other_headers = await admin_of(make_tenant, make_user, login)
    async with tenant_session(db.app_sessions, other.id) as session:
        foreign = SsoProvider(tenant_id=other.id, kind="oidc", name="Theirs", config={"issuer": "https://x.test"})
        session.add(foreign)
        await session.flush()
        foreign_id = foreign.id
    base = secure_host(tenant)
    for path in (f"/admin/sso/{foreign_id}/oidc", f"/admin/sso/{foreign_id}/remove"):
        assert (await client.get(f"{base}{path}", headers=headers)).status_code == 404, path
    gone = await client.post(f"{base}/admin/sso/{foreign_id}/remove", data={"csrf_token": CSRF}, headers=headers)
    assert gone.status_code == 404
    assert (await client.get(f"{secure_host(other)}/admin/sso", headers=other_headers)).status_code == 200

    learner = browser_headers(await bearer(login, await make_user(tenant, roles=["learner"])))
    for path in ("/admin/sso", "/admin/sso/oidc/new", "/admin/sso/saml/new"):
        denied = await client.get(f"{base}{path}", headers=learner, follow_redirects=False)
        assert denied.status_code == 403, path
        assert denied.headers["content-type"].startswith("text/html")

    trial, trial_headers = await admin_of(make_tenant, make_user, login, plan=Plan.TRIAL)
    overview = await client.get(f"{secure_host(trial)}/admin/sso", headers=trial_headers)
    assert overview.status_code == 200
    assert "Your plan does not include single sign-on." in overview.text
    assert 'href="/admin/billing"' in overview.text
    gated = await client.get(f"{secure_host(trial)}/admin/sso/oidc/new", headers=trial_headers)
    assert gated.status_code == 402
    assert "/admin/billing" in gated.text
