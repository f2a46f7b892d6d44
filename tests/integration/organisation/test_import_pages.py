"""The import in the browser: upload, choose columns, check the preview with row problems, import;
field errors come back on the page, and the progress fragment hands over to the page when done."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.engines import Database
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.identity.helpers import secure_host
from tests.integration.organisation.test_imports import people_csv, users_in
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_admin_uploads_maps_checks_and_imports_from_the_pages(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    token = await bearer(login, admin)
    site = secure_host(tenant)
    headers = browser_headers(token)

    start = await client.get(f"{site}/admin/users/import", headers=headers)
    assert start.status_code == 200
    assert 'enctype="multipart/form-data"' in start.text

    empty = await client.post(f"{site}/admin/users/import", data={"csrf_token": CSRF}, headers=headers)
    assert empty.status_code == 422
    assert "Choose a CSV file to upload." in empty.text

    data = people_csv(
        [["ann@corp.example", "Ann", "", "", "", ""], ["broken", "Bob", "", "", "", ""]],
        header=["Work mail", "Who", "x", "y", "z", "w"],
    )
    uploaded = await client.post(
        f"{site}/admin/users/import",
        data={"csrf_token": CSRF},
        files={"file": ("people.csv", data, "text/csv")},
        headers=headers,
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text
    page_url = f"{site}{uploaded.headers['location']}"
    mapping = await client.get(page_url, headers=headers)
    assert "Which column is which?" in mapping.text
    assert "Work mail" in mapping.text

    unmapped = await client.post(f"{page_url}/preview", data={"csrf_token": CSRF}, headers=headers)
    assert unmapped.status_code == 422
    assert "Choose the column that holds this." in unmapped.text

    checked = await client.post(
        f"{page_url}/preview",
        data={"csrf_token": CSRF, "map_email": "Work mail", "map_display_name": "Who"},
        headers=headers,
        follow_redirects=False,
    )
    assert checked.status_code == 303, checked.text
    preview = await client.get(page_url, headers=headers)
    assert "Check what would change" in preview.text
    assert "not an e-mail address" in preview.text
    assert "Import now" in preview.text
    assert await users_in(db, tenant) == 1

    progress = await client.get(
        f"{page_url}/progress", headers={**headers, "HX-Request": "true"}, follow_redirects=False
    )
    assert progress.headers.get("hx-redirect", "").endswith(uploaded.headers["location"])

    done = await client.post(f"{page_url}/apply", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False)
    assert done.status_code == 303
    finished = await client.get(page_url, headers=headers)
    assert "Import finished" in finished.text
    assert "Download the problem report" in finished.text
    assert await users_in(db, tenant) == 2
    report = await client.get(f"{page_url}/problems.csv", headers=headers)
    assert "not an e-mail address" in report.text


async def test_import_pages_of_another_tenant_are_not_reachable(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    their_token = await bearer(login, await make_user(other, roles=["tenant_admin"]))
    uploaded = await client.post(
        f"{secure_host(other)}/admin/users/import",
        data={"csrf_token": CSRF},
        files={"file": ("p.csv", people_csv([["a@b.example", "A", "", "", "", ""]]), "text/csv")},
        headers=browser_headers(their_token),
        follow_redirects=False,
    )
    path = uploaded.headers["location"]
    my_token = await bearer(login, await make_user(tenant, roles=["tenant_admin"]))
    site = secure_host(tenant)
    mine = browser_headers(my_token)
    assert (await client.get(f"{site}{path}", headers=mine)).status_code == 404
    assert (await client.get(f"{site}{path}/progress", headers=mine)).status_code == 404
    assert (await client.get(f"{site}{path}/problems.csv", headers=mine)).status_code == 404
    for action in ("preview", "apply"):
        answer = await client.post(f"{site}{path}/{action}", data={"csrf_token": CSRF}, headers=mine)
        assert answer.status_code == 404, action
