"""The sign-in pages a person reaches from the site and from e-mailed links, in the tenant's branding."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeTenant, host

Client = AsyncTestClient[Litestar]


async def test_sign_in_page_is_branded_and_asks_for_the_email_first(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant(name="Acme Corp")
    page = await client.get(f"{host(tenant)}/sign-in")
    assert page.status_code == 200
    assert "Sign in to Acme Corp" in page.text
    assert 'name="email"' in page.text
    assert 'name="password"' not in page.text
    assert 'name="csrf_token"' in page.text


async def test_emailed_link_pages_carry_the_token_escaped(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    invitation = await client.get(f"{host(tenant)}/accept-invitation", params={"token": "lk_abc"})
    assert 'name="token" value="lk_abc"' in invitation.text
    assert 'action="/accept-invitation"' in invitation.text
    hostile = await client.get(f"{host(tenant)}/reset-password", params={"token": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in hostile.text
    assert "&#34;&gt;&lt;script&gt;" in hostile.text or "&quot;&gt;&lt;script&gt;" in hostile.text
    request_form = await client.get(f"{host(tenant)}/reset-password")
    assert 'name="email"' in request_form.text
    assert 'action="/reset-password"' in request_form.text


async def test_openapi_document_describes_the_identity_api(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/v1/auth/login", "/api/v1/users", "/api/v1/sso/providers/oidc", "/api/v1/me/mfa/totp"):
        assert path in document["paths"] or path + "/" in document["paths"], path
