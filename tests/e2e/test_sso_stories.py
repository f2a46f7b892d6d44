"""A tenant admin sets up single sign-on in Chromium, at desktop size (pages audited at 360 px), with axe-core on every
page: adds the company's OpenID provider (a real one, running locally) with the redirect URI the page
shows, runs a test sign-in that lists what the provider asserted, then creates a SCIM token (shown
once) and revokes it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.async_api import BrowserContext, Route, expect

from lms.config import Settings
from tests.conftest import MakeTenant, MakeUser
from tests.e2e.conftest import serving_app, staff_story
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.idp.oidc_provider import OpenIDProvider, Person, running_openid_provider
from tests.integration.identity.helpers import PASSWORD, make_member

pytestmark = staff_story

SHOTS = os.environ.get("LMS_SCREENSHOTS", "")
CLIENT_SECRET = "e2e-client-secret"


@pytest.fixture(scope="module")
def openid_provider() -> Iterator[OpenIDProvider]:
    """The company's provider on loopback, which the app refuses unless its address is allowed."""
    with running_openid_provider() as op:
        previous = os.environ.get("SSO_ALLOW_PRIVATE_HOSTS")
        os.environ["SSO_ALLOW_PRIVATE_HOSTS"] = op.issuer.removeprefix("http://")
        try:
            yield op
        finally:
            if previous is None:
                os.environ.pop("SSO_ALLOW_PRIVATE_HOSTS", None)
            else:
                os.environ["SSO_ALLOW_PRIVATE_HOSTS"] = previous


@pytest.fixture(scope="module")
def web_server(openid_provider: OpenIDProvider, settings: Settings) -> Iterator[int]:
    """An app process of this module's own, started once the provider's address is in its environment."""
    with serving_app(settings) as port:
        yield port


async def test_admin_sets_up_oidc_tests_it_and_manages_a_scim_token(
    web_server: int,
    context: BrowserContext,
    openid_provider: OpenIDProvider,
    make_tenant: MakeTenant,
    make_user: MakeUser,
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    admin = await make_member(make_user, tenant, roles=["tenant_admin", "learner"], display_name="Ada Admin")
    base = site(tenant, web_server)
    page = await context.new_page()
    width = (page.viewport_size or {"width": 0})["width"]

    # The site's public address has no port; the test server has one (a proxy would be on port 80).
    async def to_test_port(route: Route) -> None:
        parts = urlsplit(route.request.url)
        moved = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{web_server}"))
        await route.fulfill(status=302, headers={"Location": moved})

    await context.route(f"http://{tenant.slug}.localhost/**", to_test_port)

    async def shot(name: str) -> None:
        await check_page(page)
        if SHOTS:
            await page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)

    await page.goto(f"{base}/admin")
    await sign_in(page, admin.email, PASSWORD)
    await page.wait_for_url(f"{base}/admin")
    await page.get_by_role("link", name=re.compile(r"^Start\W+Set up single sign-on$")).click()
    await expect(page.get_by_role("heading", name="Single sign-on", exact=True)).to_be_visible()
    await expect(page.get_by_text("No sign-in provider yet")).to_be_visible()
    await shot("sso-empty")

    await page.get_by_role("button", name="Add an OpenID Connect provider").click()
    redirect_uri = (await page.locator("#redirect-uri").inner_text()).strip()
    assert redirect_uri == f"http://{tenant.slug}.localhost/auth/oidc/callback"
    await shot("sso-oidc-new")

    # A first try without the client ID: the summary and the field both say what is missing.
    await page.get_by_label("Name", exact=True).first.fill("Acme Login")
    await page.get_by_label("Issuer or discovery URL").fill(openid_provider.issuer)
    await page.get_by_role("button", name="Save the provider").click()
    summary = page.get_by_role("alert")
    await expect(summary.get_by_role("link", name="Enter the client ID the provider gave you.")).to_be_visible()
    await shot("sso-oidc-errors")

    # The admin registers the site at the provider with the redirect URI the page showed.
    client_id = f"lms-{tenant.slug}"
    openid_provider.add_client(client_id, CLIENT_SECRET, [redirect_uri])
    openid_provider.add_person(Person(f"u-{tenant.slug}", "pw-tess", "tess@acme.com", "Tess Tester", ["staff"]))
    await page.get_by_label("Client ID").fill(client_id)
    await page.get_by_label("Client secret").fill(CLIENT_SECRET)
    await page.get_by_label("E-mail domains").fill("acme.com")
    await page.get_by_role("button", name="Save the provider").click()
    await expect(page.get_by_text("The provider is saved.")).to_be_visible()
    await expect(page.get_by_role("link", name="Acme Login", exact=True)).to_be_visible()
    await shot("sso-list")

    await page.get_by_role("button", name=re.compile(r"^Test sign-in\W+Acme Login$")).click()
    await page.wait_for_url(f"{openid_provider.issuer}/authorize**")
    await page.locator("input[name=username]").fill("tess@acme.com")
    await page.locator("input[name=password]").fill("pw-tess")
    await page.evaluate("document.forms[0].submit()")
    await expect(page.get_by_role("heading", name="Test sign-in with Acme Login")).to_be_visible()
    await expect(page.get_by_text("nobody was signed in")).to_be_visible()
    await expect(page.get_by_role("definition").filter(has_text="tess@acme.com")).to_be_visible()
    await expect(page.get_by_role("cell", name="Tess Tester")).to_be_visible()
    await shot("sso-test-result")

    await page.get_by_role("link", name="Back to single sign-on").click()
    await page.get_by_role("link", name="Manage SCIM tokens").click()
    await expect(page.get_by_text("No SCIM token yet")).to_be_visible()
    await page.get_by_label("Name").fill("Okta")
    await page.get_by_role("button", name="Create the token").click()
    token = (await page.locator("#new-token").inner_text()).strip()
    assert token.startswith("scim_")
    await shot("scim-created")

    await page.goto(f"{base}/admin/scim")
    await expect(page.get_by_text(token)).to_have_count(0)
    await expect(page.get_by_role("cell", name="Never")).to_be_visible()
    await page.get_by_role("link", name=re.compile(r"^Revoke\W+Okta$")).click()
    await expect(page.get_by_role("heading", name="Revoke the token “Okta”?")).to_be_visible()
    await shot("scim-revoke")
    await page.get_by_role("button", name="Revoke the token").click()
    await expect(page.get_by_text("The token is revoked.")).to_be_visible()
    await expect(page.get_by_text("No SCIM token yet")).to_be_visible()
    await shot("scim-after-revoke")
