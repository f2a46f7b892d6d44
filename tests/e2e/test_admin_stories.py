"""A tenant admin uses the console in Chromium, at desktop size (pages audited at 360 px), with axe-core on every
page: the setup checklist, the user list with filters, a person's page, and a CSV import from upload
to the finished import."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from playwright.async_api import BrowserContext, expect

from tests.conftest import MakeTenant, MakeUser
from tests.e2e.conftest import staff_story
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.integration.identity.helpers import PASSWORD, make_member

pytestmark = staff_story

# Set to a folder to keep a screenshot of each admin page (for looking at them).
SHOTS = os.environ.get("LMS_SCREENSHOTS", "")


async def test_admin_sets_up_finds_people_and_imports_a_spreadsheet(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser, tmp_path: Path
) -> None:
    tenant = await make_tenant(name="Acme Corp", seats=0)
    admin = await make_member(make_user, tenant, roles=["tenant_admin", "learner"], display_name="Ada Admin")
    await make_user(tenant, display_name="Sam Sales", groups=["Sales"])
    base = site(tenant, web_server)
    page = await context.new_page()
    width = (page.viewport_size or {"width": 0})["width"]

    await page.goto(f"{base}/admin")
    await sign_in(page, admin.email, PASSWORD)
    await page.wait_for_url(f"{base}/admin")
    await expect(page.get_by_role("heading", name="Set up your learning site")).to_be_visible()
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/setup-{width}.png", full_page=True)

    await page.goto(f"{base}/admin/users")
    await page.get_by_label("Group").select_option("Sales")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_role("link", name="Sam Sales")).to_be_visible()
    await expect(page.get_by_role("link", name="Ada Admin")).to_have_count(0)
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/users-{width}.png", full_page=True)

    await page.get_by_role("link", name="Sam Sales").click()
    await expect(page.get_by_role("heading", name="Sam Sales")).to_be_visible()
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/user-{width}.png", full_page=True)

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Email", "Name", "Department"])
    writer.writerow(["new.hire@acme.example", "New Hire", "Sales"])
    writer.writerow(["not-an-address", "Broken Row", "Ops"])
    upload = tmp_path / "people.csv"
    upload.write_text(out.getvalue(), encoding="utf-8")

    await page.goto(f"{base}/admin/users/import")
    await check_page(page)
    await page.get_by_label("CSV file (UTF-8) or Excel workbook (.xlsx), up to 64 MB").set_input_files(str(upload))
    await page.get_by_role("button", name="Upload and choose columns").click()
    await expect(page.get_by_role("heading", name="1. Which column is which?")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.get_by_role("heading", name="2. Check what would change")).to_be_visible()
    await expect(page.get_by_role("cell", name="not an e-mail address")).to_be_visible()
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/import-preview-{width}.png", full_page=True)
    await page.get_by_role("button", name="Import now").click()
    await expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    await check_page(page)

    await page.goto(f"{base}/admin/users?q=New+Hire")
    await expect(page.get_by_role("link", name="New Hire")).to_be_visible()

    await page.goto(f"{base}/admin/groups")
    await page.get_by_label("Name", exact=True).fill("Field sales")
    await page.get_by_label("Attribute").fill("department")
    await page.get_by_label("Value").fill("Sales")
    await page.get_by_role("button", name="Add the group").click()
    await expect(page.get_by_role("status")).to_contain_text("The group is added.")
    await expect(page.get_by_role("link", name="Field sales", exact=True)).to_be_visible()
    await check_page(page)
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/groups-{width}.png", full_page=True)

    await page.goto(f"{base}/team")
    await expect(page.get_by_role("heading", name="No one reports to you")).to_be_visible()
    await check_page(page)
