"""Staff of a tenant sign in through the company's OpenID provider (a real one, running locally)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.idp.oidc_provider import OpenIDProvider, Person
from tests.integration.identity.helpers import secure_host

Client = AsyncTestClient[Litestar]


async def configure(
    client: Client, tenant: Tenant, admin_headers: dict[str, str], provider: OpenIDProvider, client_id: str
) -> dict[str, str]:
    response = await client.post(
        f"{secure_host(tenant)}/api/v1/sso/providers/oidc",
        json={
            "name": "Acme Login",
            "issuer": provider.issuer,
            "client_id": client_id,
            "client_secret": "s3cret-" + client_id,
            "email_domains": ["acme.com"],
            "attribute_mapping": {"group_roles": {"lms-instructors": "instructor"}},
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    provider.add_client(client_id, "s3cret-" + client_id, [body["redirect_uri"]])
    return body


async def sign_in_at_provider(authorize_url: str, email: str, password: str) -> str:
    async with httpx.AsyncClient() as browser:
        response = await browser.post(authorize_url, data={"username": email, "password": password})
    assert response.status_code == 302, response.text
    return response.headers["location"]


@pytest.mark.usefixtures("trusts_local_provider")
async def test_oidc_sign_in_provisions_the_user_just_in_time(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, provider: OpenIDProvider
) -> None:
    tenant = await make_tenant()
    admin_headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    config = await configure(client, tenant, admin_headers, provider, f"lms-{tenant.slug}")
    provider.add_person(Person("u-ada", "pw-ada", "ada@acme.com", "Ada Lovelace", ["lms-instructors", "sales"]))
    base = secure_host(tenant)

    discovered = (await client.get(f"{base}/api/v1/auth/discover", params={"email": "ada@acme.com"})).json()
    assert discovered["method"] == "sso"
    assert discovered["login_url"] == config["login_url"]
    other = (await client.get(f"{base}/api/v1/auth/discover", params={"email": "bob@elsewhere.org"})).json()
    assert other["method"] == "password"

    start = await client.get(discovered["login_url"], params={"next": "/courses/42"}, follow_redirects=False)
    assert start.status_code in (302, 303, 307)
    authorize_url = start.headers["location"]
    params = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(f"{provider.issuer}/authorize?")
    assert params["code_challenge_method"] == ["S256"]
    assert params["nonce"][0]
    assert params["state"][0]

    callback = await sign_in_at_provider(authorize_url, "ada@acme.com", "pw-ada")
    assert callback.startswith(f"{base}/auth/oidc/")
    finished = await client.get(callback, follow_redirects=False)
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/courses/42"

    me = await client.get(f"{base}/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "ada@acme.com"
    assert me.json()["display_name"] == "Ada Lovelace"
    assert me.json()["roles"] == ["instructor", "learner"]

    # The state is single use: replaying the callback does not sign anyone in.
    replay = await client.get(callback, follow_redirects=False)
    assert replay.status_code == 403


@pytest.mark.usefixtures("trusts_local_provider")
async def test_oidc_login_relay_target_stays_on_this_site(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, provider: OpenIDProvider
) -> None:
    tenant = await make_tenant()
    admin_headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    config = await configure(client, tenant, admin_headers, provider, f"lms-{tenant.slug}")
    provider.add_person(Person("u-eve", "pw-eve", "eve@acme.com", "Eve"))
    start = await client.get(config["login_url"], params={"next": "https://evil.example/steal"}, follow_redirects=False)
    callback = await sign_in_at_provider(start.headers["location"], "eve@acme.com", "pw-eve")
    finished = await client.get(callback, follow_redirects=False)
    assert finished.headers["location"] == "/"


@pytest.mark.usefixtures("trusts_local_provider")
async def test_callback_of_another_tenant_is_refused(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, provider: OpenIDProvider
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    config_a = await configure(
        client, tenant_a, await login(await make_user(tenant_a, roles=["tenant_admin"])), provider, f"a-{tenant_a.slug}"
    )
    provider.add_person(Person("u-mal", "pw-mal", "mal@acme.com", "Mal"))
    start = await client.get(config_a["login_url"], follow_redirects=False)
    callback = await sign_in_at_provider(start.headers["location"], "mal@acme.com", "pw-mal")
    # The same callback path and query, presented on tenant B's host: B has no such provider.
    moved = callback.replace(secure_host(tenant_a), secure_host(tenant_b))
    assert (await client.get(moved, follow_redirects=False)).status_code == 404


async def test_provider_urls_in_private_networks_are_refused(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    for issuer in ("http://127.0.0.1:9/", "http://169.254.169.254/latest", "http://10.0.0.8", "file:///etc/passwd"):
        response = await client.post(
            f"{secure_host(tenant)}/api/v1/sso/providers/oidc",
            json={"name": "Internal", "issuer": issuer, "client_id": "x"},
            headers=headers,
        )
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["field"] == "issuer"


@pytest.mark.usefixtures("trusts_local_provider")
async def test_id_tokens_meant_for_someone_else_are_refused(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, provider: OpenIDProvider
) -> None:
    tenant = await make_tenant()
    admin_headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    config = await configure(client, tenant, admin_headers, provider, f"lms-{tenant.slug}")
    provider.add_person(Person("u-zed", "pw-zed", "zed@acme.com", "Zed"))
    for overrides, reason in (
        ({"aud": ["another-client"]}, "invalid ID token"),
        ({"iss": "https://impostor.example.com"}, "invalid ID token"),
        ({"exp": 1_000_000_000, "iat": 999_999_000}, "expired"),
    ):
        provider.id_token_overrides = overrides
        try:
            start = await client.get(config["login_url"], follow_redirects=False)
            callback = await sign_in_at_provider(start.headers["location"], "zed@acme.com", "pw-zed")
            refused = await client.get(callback, follow_redirects=False)
        finally:
            provider.id_token_overrides = {}
        assert refused.status_code == 403, (overrides, refused.text)
        assert reason in refused.json()["error"]["message"]
        assert "lms_session" not in refused.headers.get("set-cookie", "")
