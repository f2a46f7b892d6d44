"""A tenant admin exports a person's personal data and then erases the person, in Chromium at desktop
size with axe-core on every page (and at 360 px): the export is prepared in the background and its link
appears without reloading; the erasure asks for the person's address and names what goes and what stays."""

from __future__ import annotations

import os
from typing import Any

from playwright.async_api import BrowserContext, expect

from tests.conftest import MakeTenant, MakeUser
from tests.e2e.conftest import staff_story
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.integration.identity.helpers import PASSWORD, make_member

pytestmark = staff_story

# Set to a folder to keep a screenshot of each page (for looking at them).
SHOTS = os.environ.get("LMS_SCREENSHOTS", "")


async def test_admin_exports_then_erases_a_person(
    web_server: int, worker: Any, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    admin = await make_member(make_user, tenant, roles=["tenant_admin"], display_name="Ada Admin")
    person = await make_user(tenant, display_name="Grace Hopper", email="grace@acme.example")
    base = site(tenant, web_server)
    page = await context.new_page()
    width = (page.viewport_size or {"width": 0})["width"]

    await page.goto(f"{base}/admin/users/{person.id}")
    await sign_in(page, admin.email, PASSWORD)
    await page.wait_for_url(f"{base}/admin/users/{person.id}")
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/user-{width}.png", full_page=True)
    await page.get_by_role("button", name="Export personal data").click()
    await page.wait_for_url(f"{base}/admin/users/{person.id}/privacy?done=export")
    await expect(page.get_by_role("heading", name="Personal data", exact=True)).to_be_visible()
    # htmx polls while the worker builds the zip; the link appears without a reload.
    await expect(page.get_by_role("link", name="Download the zip")).to_be_visible(timeout=30_000)
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/privacy-{width}.png", full_page=True)
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download the zip").click()
    assert (await download.value).suggested_filename == f"personal-data-{person.id}.zip"

    await page.get_by_role("button", name="Erase this person").click()
    await expect(page.get_by_role("heading", name="Erase Grace Hopper?")).to_be_visible()
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/erase-{width}.png", full_page=True)
    await page.get_by_role("button", name="Erase this person").click()
    await expect(page.get_by_role("alert")).to_contain_text("Type the person's e-mail address to confirm.")
    await check_page(page)
    await page.get_by_label("Type grace@acme.example to confirm").fill("grace@acme.example")
    await page.get_by_role("button", name="Erase this person").click()
    await expect(page.get_by_role("heading", name="This person is erased")).to_be_visible()
    await check_page(page)

    await page.goto(f"{base}/admin/privacy")
    await page.get_by_label("Keep them").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("The privacy settings are saved.")
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/privacy-settings-{width}.png", full_page=True)
