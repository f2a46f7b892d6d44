"""People use the pages in Chromium, at desktop and phone size, with axe-core checking every
page: sign in and come back, change language, set up two-step sign-in, sign out, find a course and
enrol; errors are pages."""

from __future__ import annotations

import re

import pyotp
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, Page, expect

from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.e2e.conftest import assert_accessible, assert_no_horizontal_scroll, audited_narrow
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import PASSWORD, make_member

Client = AsyncTestClient[Litestar]
NARROWEST = {"width": 360, "height": 740}


def site(tenant: Tenant, port: int) -> str:
    return f"http://{tenant.slug}.localhost:{port}"


async def check_page(page: Page) -> None:
    """Every page of a story: HTML, accessible, and no sideways scrolling at 360 px (where a staff story
    runs at desktop size only, accessible at 360 px as well)."""
    await page.wait_for_load_state("load")  # the page a click led to, not the one it left
    assert await page.evaluate("document.contentType") == "text/html"
    await assert_accessible(page)
    size = page.viewport_size
    await page.set_viewport_size(NARROWEST)
    if audited_narrow(page):
        await assert_accessible(page)
    await assert_no_horizontal_scroll(page)
    if size is not None:
        await page.set_viewport_size(size)


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def sign_out(page: Page) -> None:
    menu = page.locator("summary", has_text=re.compile("^(Menu|Menü)$"))
    if await menu.is_visible():
        await menu.click()
    await page.get_by_role("button", name=re.compile("^(Sign out|Abmelden)$")).click()


async def test_learner_signs_in_returns_to_the_page_changes_language_and_signs_out(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    user = await make_member(make_user, tenant, display_name="Ada Learner")
    base = site(tenant, web_server)
    page = await context.new_page()

    response = await page.goto(f"{base}/account")
    assert response is not None
    assert page.url == f"{base}/sign-in?next=/account"
    await expect(page.get_by_role("heading", name="Sign in to Acme Corp")).to_be_visible()
    await check_page(page)

    await page.get_by_label("E-mail address").fill(user.email)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Password").fill("certainly not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("The e-mail address or password is not correct.")
    await check_page(page)

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/account")
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    await expect(page.get_by_role("row")).to_have_count(2)  # the header and this browser's session
    await check_page(page)

    await page.get_by_label("Language").select_option("de")
    await page.get_by_label("Time zone").select_option("Europe/Berlin")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_role("status")).to_contain_text("Ihr Profil ist gespeichert.")
    assert await page.get_attribute("html", "lang") == "de"
    await expect(page.get_by_role("heading", name="Ihr Konto")).to_be_visible()
    await check_page(page)

    await sign_out(page)
    await page.wait_for_url(f"{base}/sign-in?signed_out=1")
    await expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    await page.goto(f"{base}/account")
    assert page.url == f"{base}/sign-in?next=/account"


async def test_learner_sets_up_two_step_sign_in_and_uses_a_recovery_code(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Globex")
    user = await make_member(make_user, tenant)
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/sign-in?next=/account")
    await sign_in(page, user.email, PASSWORD)
    await page.wait_for_url(f"{base}/account")

    await page.get_by_role("button", name="Set up two-step sign-in").click()
    await expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    await check_page(page)
    secret = (await page.locator("code.secret").inner_text()).strip()
    await page.get_by_label("Code from your app").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    await page.get_by_role("button", name="Turn on two-step sign-in").click()
    await expect(page.locator("#code-error")).to_contain_text("not correct")
    await page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Turn on two-step sign-in").click()
    await expect(page.locator("#recovery-codes li")).to_have_count(10)
    codes = await page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    await check_page(page)

    await sign_out(page)
    await page.wait_for_url(re.compile(r".*/sign-in\?signed_out=1$"))
    await page.goto(f"{base}/sign-in?next=/account")
    await sign_in(page, user.email, PASSWORD)
    code_field = page.get_by_label("Code from your authenticator app")
    await expect(code_field).to_be_visible()
    await check_page(page)
    await code_field.fill(codes[0])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/account")
    await expect(page.get_by_text("9 recovery codes left.")).to_be_visible()


async def test_errors_are_pages_and_a_german_browser_reads_german(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Beispiel AG")
    base = site(tenant, web_server)
    page = await context.new_page()
    response = await page.goto(f"{base}/courses/does-not-exist")
    assert response is not None
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    await check_page(page)

    response = await page.goto(f"http://no-such-site.localhost:{web_server}/")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="No learning site here")).to_be_visible()
    await check_page(page)

    assert context.browser is not None
    german = await context.browser.new_context(viewport=page.viewport_size, locale="de-DE")
    page = await german.new_page()
    await page.goto(f"{base}/sign-in")
    assert await page.get_attribute("html", "lang") == "de"
    await expect(page.get_by_role("heading", name="Bei Beispiel AG anmelden")).to_be_visible()
    await page.get_by_role("button", name="Weiter").click()
    await expect(page.get_by_role("alert")).to_contain_text("Geben Sie Ihre E-Mail-Adresse ein.")
    await check_page(page)
    await german.close()


async def test_staff_see_every_component_and_another_tenants_learner_sees_nothing(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant, other = await make_tenant(name="Initech"), await make_tenant(name="Hooli")
    admin = await make_member(make_user, tenant, roles=["tenant_admin"], display_name="Ida Admin")
    outsider = await make_member(make_user, other)
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/sign-in?next=/design-system")
    await sign_in(page, admin.email, PASSWORD)
    await page.wait_for_url(f"{base}/design-system")
    await expect(page.get_by_role("heading", name="Design system", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Open a dialog").click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Close").click()
    await expect(page.locator("a[href='/admin']", has_text="Administration").first).to_be_attached()

    # Hooli's learner, on Initech's site, is a stranger: the password of another site does not work.
    assert context.browser is not None
    stranger = await context.browser.new_context(viewport=page.viewport_size)
    other_page = await stranger.new_page()
    await other_page.goto(f"{base}/sign-in?next=/account")
    await sign_in(other_page, outsider.email, PASSWORD)
    await expect(other_page.get_by_role("alert")).to_contain_text("The e-mail address or password is not correct.")
    await other_page.goto(f"{base}/account")
    assert other_page.url.startswith(f"{base}/sign-in")
    await stranger.close()


async def test_learner_finds_a_course_enrols_and_sees_it_in_my_learning(
    web_server: int,
    context: BrowserContext,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    client: Client,
    login: Login,
) -> None:
    tenant = await make_tenant(name="Umbrella")
    _, author = await instructor(make_user, login, tenant)
    await build_course(client, tenant, author, title="Data privacy essentials", summary="Keep personal data safe")
    await build_course(client, tenant, author, title="Forklift driving", summary="Lift things safely")
    learner = await make_member(make_user, tenant)
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/sign-in")
    await sign_in(page, learner.email, PASSWORD)
    await page.wait_for_url(f"{base}/")
    await expect(page.get_by_role("heading", name="No courses yet")).to_be_visible()
    await check_page(page)

    await page.get_by_role("button", name="Browse the catalogue").click()
    await page.get_by_role("searchbox", name="Search courses").fill("privacy")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.get_by_text("1 course", exact=True)).to_be_visible()
    await check_page(page)
    await page.get_by_role("link", name="Data privacy essentials").click()
    await expect(page.get_by_role("heading", name="Outline")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Enrol").click()
    await expect(page.get_by_role("status")).to_contain_text("You are enrolled.")
    await check_page(page)

    await page.goto(f"{base}/")
    await expect(page.get_by_text("Continue where you left off")).to_be_visible()
    await expect(page.get_by_role("link", name="Data privacy essentials")).to_be_visible()
    await check_page(page)
