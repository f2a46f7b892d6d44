"""An administrator assigns a course on /admin/training, sees field errors for what is missing, deletes
an assignment, and reads the compliance report with its counts and export link; learners are refused."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.engines import Database
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.compliance.test_training_rules import enrolments, group, published_course
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_admin_assigns_a_course_to_a_group_on_the_page_and_reads_the_report(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    token = await bearer(login, await make_user(tenant, roles=["tenant_admin"]))
    site = secure_host(tenant)
    course_id = await published_course(db, tenant, "Data protection")
    sales = await group(db, tenant, "Sales")
    await make_user(tenant, email="sam@corp.example", display_name="Sam Sales", groups=["Sales"])

    empty = await client.get(f"{site}/admin/training", headers=browser_headers(token))
    assert empty.status_code == 200
    assert "text/html" in empty.headers["content-type"]
    assert "No training assigned yet" in empty.text
    assert 'href="/admin/training"' in empty.text  # the admin navigation shows the section

    missing = await client.post(
        f"{site}/admin/training",
        data={"csrf_token": CSRF, "target": "group", "due": "days", "due_days": "0", "recur_months": "x"},
        headers=browser_headers(token),
    )
    assert missing.status_code == 422
    assert "Choose a course." in missing.text
    assert "Choose a group." in missing.text
    assert "Enter a number of days from 1 to 3650." in missing.text
    assert "Enter a number of months from 1 to 120, or leave it empty." in missing.text
    nobody = await client.post(
        f"{site}/admin/training",
        data={
            "csrf_token": CSRF,
            "course_id": str(course_id),
            "target": "person",
            "user_email": "nobody@corp.example",
            "due": "date",
            "due_date": "2099-05-01",
        },
        headers=browser_headers(token),
    )
    assert nobody.status_code in (400, 422)
    assert 'id="user_email-error"' in nobody.text

    added = await client.post(
        f"{site}/admin/training",
        data={
            "csrf_token": CSRF,
            "course_id": str(course_id),
            "target": "group",
            "group_id": str(sales),
            "due": "days",
            "due_days": "30",
            "recur_months": "12",
        },
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert set(await enrolments(db, tenant, course_id)) == {"sam@corp.example"}
    listed = await client.get(f"{site}/admin/training?done=added", headers=browser_headers(token))
    assert "Data protection" in listed.text
    assert "Group Sales and its subgroups" in listed.text
    assert "30 days after enrolment" in listed.text
    assert "Every 12 months" in listed.text

    report = await client.get(
        f"{site}/admin/training/report?course_id={course_id}&group_id={sales}", headers=browser_headers(token)
    )
    assert report.status_code == 200
    assert "Sam Sales" in report.text
    assert "Not started" in report.text
    assert f"/api/v1/admin/compliance/export.csv?course_id={course_id}" in report.text
    filtered = await client.get(
        f"{site}/admin/training/report?course_id={course_id}&state=completed", headers=browser_headers(token)
    )
    assert "Sam Sales" not in filtered.text
    assert "Nobody here" in filtered.text

    found = re.search(r"/admin/training/([0-9a-f-]{36})/delete", listed.text)
    assert found is not None
    rule_id = found.group(1)
    deleted = await client.post(
        f"{site}/admin/training/{rule_id}/delete",
        data={"csrf_token": CSRF},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    after = await client.get(f"{site}/admin/training?done=deleted", headers=browser_headers(token))
    assert "No training assigned yet" in after.text
    assert set(await enrolments(db, tenant, course_id)) == {"sam@corp.example"}


async def test_learners_cannot_open_the_training_pages(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    token = await bearer(login, await make_user(tenant))
    site = secure_host(tenant)
    for path in ("/admin/training", "/admin/training/report"):
        refused = await client.get(f"{site}{path}", headers=browser_headers(token))
        assert refused.status_code == 403
        assert "text/html" in refused.headers["content-type"]
