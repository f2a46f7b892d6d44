"""OpenID Connect sign-in cannot take over accounts: identities are (provider, subject), e-mails link only
when verified and allowed, role mapping never strands a tenant without an admin; client authentication is
configurable; every failure of the provider is a branded page; the redirect URI comes from the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import structlog
import structlog.testing
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import SsoProvider, User, UserStatus
from lms.tenancy.models import Tenant
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.idp.oidc_provider import OpenIDProvider, Person, running_openid_provider
from tests.integration.identity.helpers import make_member, secure_host
from tests.integration.identity.sso.test_oidc import sign_in_at_provider

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html,application/xhtml+xml"}
pytestmark = pytest.mark.usefixtures("trusts_local_provider")


async def add_provider(
    client: Client,
    tenant: Tenant,
    headers: dict[str, str],
    op: OpenIDProvider,
    name: str = "Acme Login",
    auth_method: str = "client_secret_basic",
    **settings: Any,
) -> dict[str, Any]:
    client_id = f"lms-{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {
        "name": name,
        "issuer": op.issuer,
        "client_id": client_id,
        "email_domains": ["acme.com"],
        "token_endpoint_auth_method": auth_method,
        **settings,
    }
    if auth_method != "none":
        body["client_secret"] = f"secret-{client_id}"
    created = await client.post(f"{secure_host(tenant)}/api/v1/sso/providers/oidc", json=body, headers=headers)
    assert created.status_code == 201, created.text
    config: dict[str, Any] = created.json()
    op.add_client(client_id, f"secret-{client_id}", [config["redirect_uri"]], auth_method)
    return config


async def sign_in(client: Client, config: dict[str, Any], person: Person) -> httpx.Response:
    """The whole browser round trip; the answer of the callback (a browser asks for HTML)."""
    start = await client.get(config["login_url"], follow_redirects=False)
    assert start.status_code in (302, 303), start.text
    callback = await sign_in_at_provider(start.headers["location"], person.email, person.password)
    return await client.get(callback, headers=HTML, follow_redirects=False)


def person(email: str, verified: bool = True, groups: list[str] | None = None) -> Person:
    return Person(f"sub-{uuid.uuid4().hex}", "pw", email, email.split("@")[0].title(), groups or [], verified)


async def roles_of(client: Client, base: str) -> list[str]:
    me = await client.get(f"{base}/api/v1/me")
    assert me.status_code == 200, me.text
    return list(me.json()["roles"])


@pytest.fixture
async def tenant_with_admin(
    make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> tuple[Tenant, dict[str, str], str]:
    """A tenant whose only admin signs in with a password (a fresh address: the provider outlives tests)."""
    tenant = await make_tenant()
    admin = await make_member(make_user, tenant, roles=["tenant_admin"], email=f"admin-{uuid.uuid4().hex[:6]}@acme.com")
    return tenant, await login(admin), admin.email


@pytest.fixture
async def admin_in_shared_tenant(
    shared_tenant: tuple[Tenant, dict[str, str]], make_user: MakeUser, login: Login
) -> tuple[Tenant, dict[str, str], str]:
    """A fresh password admin in the module's shared tenant (parametrised cases share one tenant)."""
    tenant, _ = shared_tenant
    admin = await make_member(make_user, tenant, roles=["tenant_admin"], email=f"admin-{uuid.uuid4().hex[:6]}@acme.com")
    return tenant, await login(admin), admin.email


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


@pytest.mark.parametrize(
    ("verified", "provider_settings"),
    [
        (False, {}),
        (False, {"link_by_verified_email": True}),
        (True, {}),
    ],
    ids=["unverified", "unverified, linking allowed", "verified, linking not allowed"],
)
async def test_an_op_account_cannot_take_over_the_local_admin(
    client: Client,
    provider: OpenIDProvider,
    admin_in_shared_tenant: tuple[Tenant, dict[str, str], str],
    verified: bool,
    provider_settings: dict[str, Any],
) -> None:
    tenant, headers, admin_email = admin_in_shared_tenant
    config = await add_provider(
        client,
        tenant,
        headers,
        provider,
        name=unique("Acme Login"),
        attribute_mapping={"group_roles": {"staff": "instructor"}},
        **provider_settings,
    )
    attacker = person(admin_email, verified=verified)
    provider.add_person(attacker)
    refused = await sign_in(client, config, attacker)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("text/html")
    assert "lms_session" not in refused.headers.get("set-cookie", "")
    # The admin is still an admin.
    assert (await client.get(f"{secure_host(tenant)}/api/v1/users", headers=headers)).status_code == 200


async def test_a_verified_address_links_when_allowed_and_hand_granted_roles_stay(
    client: Client, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, admin_email = tenant_with_admin
    config = await add_provider(
        client,
        tenant,
        headers,
        provider,
        link_by_verified_email=True,
        attribute_mapping={"group_roles": {"staff": "instructor"}},
    )
    owner = person(admin_email, verified=True)
    provider.add_person(owner)
    linked = await sign_in(client, config, owner)
    assert linked.status_code == 303, linked.text
    assert await roles_of(client, secure_host(tenant)) == ["tenant_admin"]
    # Later sign-ins find the account through (provider, subject), even with another address.
    owner.email = f"renamed-{uuid.uuid4().hex[:6]}@acme.com"
    again = await sign_in(client, config, owner)
    assert again.status_code == 303, again.text
    assert (await client.get(f"{secure_host(tenant)}/api/v1/me")).json()["email"] == admin_email


async def test_unverified_addresses_create_accounts_only_when_trusted(
    client: Client, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    strict = await add_provider(client, tenant, headers, provider, name="Strict")
    trusting = await add_provider(client, tenant, headers, provider, name="Trusting", trust_unverified_email=True)
    newcomer = person(f"new-{uuid.uuid4().hex[:6]}@acme.com", verified=False)
    provider.add_person(newcomer)
    assert (await sign_in(client, strict, newcomer)).status_code == 403
    created = await sign_in(client, trusting, newcomer)
    assert created.status_code == 303, created.text


async def test_a_second_provider_cannot_sign_in_to_an_account_made_through_another(
    client: Client, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    first = await add_provider(client, tenant, headers, provider, name="First")
    second = await add_provider(client, tenant, headers, provider, name="Second")
    someone = person(f"someone-{uuid.uuid4().hex[:6]}@acme.com")
    provider.add_person(someone)
    assert (await sign_in(client, first, someone)).status_code == 303
    refused = await sign_in(client, second, someone)
    assert refused.status_code == 403
    assert "may not sign in to it" in refused.text


async def test_role_mapping_never_removes_the_last_admin(
    client: Client,
    db: Database,
    provider: OpenIDProvider,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant()
    setup_admin = await make_member(make_user, tenant, roles=["tenant_admin"], email="setup@acme.com")
    headers = await login(setup_admin)
    config = await add_provider(
        client,
        tenant,
        headers,
        provider,
        attribute_mapping={"group_roles": {"lms-admins": "tenant_admin"}},
    )
    boss = person(f"boss-{uuid.uuid4().hex[:6]}@acme.com", groups=["lms-admins"])
    provider.add_person(boss)
    assert (await sign_in(client, config, boss)).status_code == 303
    assert await roles_of(client, secure_host(tenant)) == ["learner", "tenant_admin"]

    # The setup admin leaves; the boss is the last admin, then drops out of the IdP group.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(update(User).where(User.id == setup_admin.id).values(status=UserStatus.DEACTIVATED))
    boss.groups = []
    assert (await sign_in(client, config, boss)).status_code == 303
    assert await roles_of(client, secure_host(tenant)) == ["learner", "tenant_admin"]

    # With another active admin, the mapping takes the role away as configured.
    await make_member(make_user, tenant, roles=["tenant_admin"], email="second@acme.com")
    assert (await sign_in(client, config, boss)).status_code == 303
    assert await roles_of(client, secure_host(tenant)) == ["learner"]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post", "none"])
async def test_token_endpoint_auth_method_is_configurable(
    client: Client,
    provider: OpenIDProvider,
    shared_tenant: tuple[Tenant, dict[str, str]],
    auth_method: str,
) -> None:
    tenant, headers = shared_tenant
    config = await add_provider(
        client, tenant, headers, provider, unique("Acme Login"), auth_method, trust_unverified_email=True
    )
    assert config["config"]["token_endpoint_auth_method"] == auth_method
    member = person(f"m-{uuid.uuid4().hex[:6]}@acme.com")
    provider.add_person(member)
    finished = await sign_in(client, config, member)
    assert finished.status_code == 303, finished.text
    # The provider insists on the method it registered: another one is refused there.
    other = "client_secret_post" if auth_method != "client_secret_post" else "client_secret_basic"
    provider.clients[config["config"]["client_id"]].auth_method = other
    refused = await sign_in(client, config, member)
    assert refused.status_code == 403
    assert "refused the sign-in code" in refused.text


async def test_a_secret_is_needed_unless_the_client_is_public(
    client: Client, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    base = secure_host(tenant)
    for method in ("client_secret_basic", "client_secret_post"):
        answer = await client.post(
            f"{base}/api/v1/sso/providers/oidc",
            json={"name": method, "issuer": provider.issuer, "client_id": "x", "token_endpoint_auth_method": method},
            headers=headers,
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "client_secret"
    public = await client.post(
        f"{base}/api/v1/sso/providers/oidc",
        json={"name": "Public", "issuer": provider.issuer, "client_id": "x", "token_endpoint_auth_method": "none"},
        headers=headers,
    )
    assert public.status_code == 201, public.text


@pytest.fixture
def short_timeout(app: Litestar, trusts_local_provider: None) -> Iterator[None]:
    original = app.state.settings
    app.state.settings = replace(original, sso_timeout_seconds=0.5)
    yield
    app.state.settings = original


@pytest.mark.usefixtures("short_timeout")
@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        ("token_not_json", "token_endpoint answered 200 with a body that is not JSON"),
        ("userinfo_not_json", "userinfo_endpoint answered 200 with a body that is not JSON"),
        ("userinfo_hangs", "userinfo_endpoint did not answer within 0.5 s"),
    ],
)
async def test_provider_failures_become_a_branded_page(
    client: Client,
    provider: OpenIDProvider,
    shared_tenant: tuple[Tenant, dict[str, str]],
    failure: str,
    cause: str,
) -> None:
    tenant, headers = shared_tenant
    name = unique("Acme Login")
    config = await add_provider(client, tenant, headers, provider, name, trust_unverified_email=True)
    member = person(f"f-{uuid.uuid4().hex[:6]}@acme.com")
    provider.add_person(member)
    provider.failure, provider.hang_seconds = failure, 2.0
    try:
        with structlog.testing.capture_logs() as logs:
            answer = await sign_in(client, config, member)
    finally:
        provider.failure = None
    assert answer.status_code == 502, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert f"{name} could not complete the sign-in" in answer.text
    assert tenant.name in answer.text  # the tenant's branded layout
    assert "lms_session" not in answer.headers.get("set-cookie", "")
    # The person is told what happened; the log says why.
    assert cause not in answer.text
    assert any(cause in str(entry.get("cause")) for entry in logs), logs


async def test_a_provider_that_is_down_is_a_branded_page(
    app: Litestar, client: Client, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    original = app.state.settings
    with running_openid_provider() as flaky:
        app.state.settings = replace(
            original, sso_allow_private_hosts=frozenset({flaky.issuer.removeprefix("http://")}), public_scheme="https"
        )
        try:
            config = await add_provider(client, tenant, headers, flaky, trust_unverified_email=True)
            member = person("down@acme.com")
            flaky.add_person(member)
            start = await client.get(config["login_url"], follow_redirects=False)
            callback = await sign_in_at_provider(start.headers["location"], member.email, member.password)
        except BaseException:
            app.state.settings = original
            raise
    try:
        # The provider is gone by the time the browser comes back with the code.
        answer = await client.get(callback, headers=HTML, follow_redirects=False)
        json_answer = await client.get(callback, follow_redirects=False)
    finally:
        app.state.settings = original
    assert answer.status_code == 502, answer.text
    assert "could not complete the sign-in" in answer.text
    assert json_answer.status_code == 403  # the state was spent by the first attempt


async def test_cancelling_at_the_provider_is_a_branded_page(
    client: Client, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    config = await add_provider(client, tenant, headers, provider)
    start = await client.get(config["login_url"], follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    query = {"error": "access_denied", "error_description": "<script>x</script> user said no", "state": state}
    answer = await client.get(f"{config['redirect_uri']}?{urlencode(query)}", headers=HTML, follow_redirects=False)
    assert answer.status_code == 403, answer.text
    assert "cancelled or refused at Acme Login" in answer.text
    assert "<script>x</script>" not in answer.text
    # Without a state at all: still a page, not a raw 400 echoing the URL.
    bare = await client.get(f"{config['redirect_uri']}?error=access_denied", headers=HTML, follow_redirects=False)
    assert bare.status_code == 403
    assert "access_denied" not in bare.text


async def test_the_redirect_uri_is_shown_before_saving_and_comes_from_the_primary_domain(
    client: Client, db: Database, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    preview_url = f"{secure_host(tenant)}/api/v1/sso/providers/oidc/redirect-uri"
    preview = await client.get(preview_url, headers=headers)
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"redirect_uri": f"{secure_host(tenant)}/auth/oidc/callback"}

    async with tenant_session(db.app_sessions, tenant.id) as session:
        domain = await factories.tenancy.make_domain(session, tenant.id)
        domain.is_primary = True
        hostname = domain.hostname
    # Asked on the platform host, the answer names the primary domain, not the host of the request.
    preview = await client.get(preview_url, headers=headers)
    assert preview.json() == {"redirect_uri": f"https://{hostname}/auth/oidc/callback"}
    config = await add_provider(client, tenant, headers, provider)
    assert config["redirect_uri"] == f"https://{hostname}/auth/oidc/callback"
    # Only admins may ask.
    assert (await client.get(preview_url)).status_code == 401


@pytest.mark.parametrize(
    "issuer",
    [
        "https://" + "a" * 64 + ".example.com",
        "https://a..example.com",
        "https://example.com:99999",
        "https://[::1",
    ],
    ids=["label over 63", "empty label", "port out of range", "unclosed IPv6"],
)
async def test_invalid_issuer_urls_are_a_422_naming_the_field(
    client: Client, shared_tenant: tuple[Tenant, dict[str, str]], issuer: str
) -> None:
    tenant, headers = shared_tenant
    answer = await client.post(
        f"{secure_host(tenant)}/api/v1/sso/providers/oidc",
        json={"name": "Broken", "issuer": issuer, "client_id": "x", "client_secret": "y"},
        headers=headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "issuer"


async def test_providers_made_before_the_shared_callback_keep_their_own(
    client: Client, db: Database, provider: OpenIDProvider, tenant_with_admin: tuple[Tenant, dict[str, str], str]
) -> None:
    tenant, headers, _ = tenant_with_admin
    config = await add_provider(client, tenant, headers, provider, trust_unverified_email=True)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        row = await session.get(SsoProvider, uuid.UUID(config["id"]))
        assert row is not None
        row.config = {k: v for k, v in row.config.items() if k != "redirect_uri"}
    legacy = f"{secure_host(tenant)}/auth/oidc/{config['id']}/callback"
    assert (await client.get(f"{secure_host(tenant)}/api/v1/sso/providers/{config['id']}", headers=headers)).json()[
        "redirect_uri"
    ] == legacy
    provider.clients[config["config"]["client_id"]].redirect_uris = [legacy]
    member = person(f"old-{uuid.uuid4().hex[:6]}@acme.com")
    provider.add_person(member)
    start = await client.get(config["login_url"], follow_redirects=False)
    callback = await sign_in_at_provider(start.headers["location"], member.email, member.password)
    assert callback.startswith(legacy)
    finished = await client.get(callback, follow_redirects=False)
    assert finished.status_code == 303, finished.text
