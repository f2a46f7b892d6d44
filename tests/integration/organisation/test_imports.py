"""Bulk import from CSV: an admin uploads 1,000 people with 20 bad rows, previews (nothing written),
applies, fixes the bad rows and imports again without duplicates; the same file again changes
nothing; seats, managers, groups, deactivation of people missing from the file, large files in
the background, the problem report and a formula-safe export."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User, UserGroup
from lms.lib.mail import EmailMessage
from lms.tenancy.models import AdminAuditEntry, Tenant
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host

Client = AsyncTestClient[Litestar]
HEADER = ["Email", "Name", "Employee ID", "Groups", "Manager", "Role"]


def people_csv(rows: list[list[str]], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def thousand_rows(broken: bool) -> list[list[str]]:
    rows = [["boss@corp.example", "Big Boss", "E-0000", "Board", "", "learner"]]
    for i in range(1, 1000):
        rows.append(
            [
                f"person{i}@corp.example",
                f"Person {i}",
                f"E-{i:04d}",
                "Sales" if i % 2 else "Ops",
                "boss@corp.example",
                "learner",
            ]
        )
    if broken:
        # 20 bad rows: 10 invalid e-mails, 5 unknown roles, 5 missing names (rows 2.. are data rows).
        for i in range(1, 11):
            rows[i * 50][0] = f"not-an-email-{i}"
        for i in range(11, 16):
            rows[i * 50][5] = "wizard"
        for i in range(16, 21):
            rows[i * 50 - 1][1] = ""
    return rows


async def users_in(db: Database, tenant: Tenant) -> int:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def upload(client: Client, tenant: Tenant, headers: dict[str, str], data: bytes, name: str = "people.csv") -> Any:
    answer = await client.post(
        f"{host(tenant)}/api/v1/admin/imports", files={"file": (name, data, "text/csv")}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def preview_and_apply(client: Client, tenant: Tenant, headers: dict[str, str], import_id: str) -> tuple[Any, Any]:
    base = f"{host(tenant)}/api/v1/admin/imports/{import_id}"
    preview = await client.post(f"{base}/preview", headers=headers)
    assert preview.status_code == 200, preview.text
    applied = await client.post(f"{base}/apply", headers=headers)
    assert applied.status_code == 200, applied.text
    return preview.json(), applied.json()


async def test_admin_imports_1000_people_fixes_20_bad_rows_and_reimports_without_duplicates(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)

    first = await upload(client, tenant, headers, people_csv(thousand_rows(broken=True)))
    assert first["headers"] == HEADER
    assert first["mapping"] == {
        "email": "Email",
        "display_name": "Name",
        "external_id": "Employee ID",
        "groups": "Groups",
        "manager_email": "Manager",
        "roles": "Role",
    }
    base = f"{host(tenant)}/api/v1/admin/imports/{first['id']}"
    early = await client.post(f"{base}/apply", headers=headers)
    assert early.status_code == 409  # preview first

    preview = await client.post(f"{base}/preview", headers=headers)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["status"] == "previewed"
    assert body["result"]["created"] == 980
    assert body["error_count"] == 20
    assert {"row": 52, "column": "Email", "reason": "not an e-mail address"} in body["problems"]
    assert any(p["column"] == "Role" and "wizard" in p["reason"] for p in body["problems"])
    assert any(p["column"] == "Name" and p["reason"] == "the name is missing" for p in body["problems"])
    assert await users_in(db, tenant) == 1  # a preview writes nothing

    report = await client.get(f"{base}/problems.csv", headers=headers)
    assert report.status_code == 200
    assert report.text.splitlines()[0] == "row,column,reason"
    assert len(report.text.splitlines()) == 21

    applied = await client.post(f"{base}/apply", headers=headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    assert applied.json()["result"]["created"] == 980
    assert await users_in(db, tenant) == 981

    fixed = await upload(client, tenant, headers, people_csv(thousand_rows(broken=False)))
    preview, again = await preview_and_apply(client, tenant, headers, fixed["id"])
    assert preview["error_count"] == 0
    assert again["result"] == {**again["result"], "created": 20, "updated": 0, "unchanged": 980, "deactivated": 0}
    assert await users_in(db, tenant) == 1001

    same = await upload(client, tenant, headers, people_csv(thousand_rows(broken=False)))
    _, unchanged = await preview_and_apply(client, tenant, headers, same["id"])
    assert unchanged["result"]["created"] == 0
    assert unchanged["result"]["updated"] == 0
    assert unchanged["result"]["unchanged"] == 1000

    async with tenant_session(db.app_sessions, tenant.id) as session:
        boss = (await session.execute(select(User).where(User.email == "boss@corp.example"))).scalar_one()
        person = (await session.execute(select(User).where(User.external_id == "E-0007"))).scalar_one()
        groups = set(await session.scalars(select(UserGroup.display_name)))
    assert person.manager_id == boss.id
    assert person.groups == ["Sales"]
    assert person.status.value == "active"
    assert {"Sales", "Ops", "Board"} <= groups


async def test_matching_by_external_id_updates_email_and_missing_people_are_deactivated(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    await make_user(tenant, email="old@corp.example", external_id="X-1", display_name="Renamed")
    leaver = await make_user(tenant, email="leaver@corp.example")
    headers = await login(admin)
    data = people_csv(
        [["new@corp.example", "Renamed Person", "X-1", "", "", ""], ["second@corp.example", "Second", "", "", "", ""]]
    )
    record = await upload(client, tenant, headers, data)
    settings = await client.put(
        f"{host(tenant)}/api/v1/admin/imports/{record['id']}/settings",
        json={"mapping": {**record["mapping"]}, "deactivate_missing": True},
        headers=headers,
    )
    assert settings.status_code == 200, settings.text
    preview, applied = await preview_and_apply(client, tenant, headers, record["id"])
    assert preview["result"]["deactivated"] == 1  # the leaver; never the admin
    assert applied["result"]["updated"] == 1
    assert applied["result"]["created"] == 1
    async with tenant_session(db.app_sessions, tenant.id) as session:
        renamed = (await session.execute(select(User).where(User.external_id == "X-1"))).scalar_one()
        gone = await session.get(User, leaver.id)
        me = await session.get(User, admin.id)
    assert renamed.email == "new@corp.example"
    assert gone is not None
    assert gone.status.value == "deactivated"
    assert me is not None
    assert me.status.value == "active"


async def test_contradicting_rows_and_unknown_managers_are_row_problems(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    await make_user(tenant, email="taken@corp.example", external_id="T-1")
    await make_user(tenant, email="other@corp.example", external_id="T-2")
    headers = await login(admin)
    data = people_csv(
        [
            ["other@corp.example", "Clash", "T-1", "", "", ""],  # T-1 is taken@, the e-mail is other@'s
            ["a@corp.example", "A", "", "", "nobody@corp.example", ""],
            ["b@corp.example", "B", "", "", "b@corp.example", ""],
            ["a@corp.example", "A again", "", "", "", ""],
        ]
    )
    record = await upload(client, tenant, headers, data)
    preview = await client.post(f"{host(tenant)}/api/v1/admin/imports/{record['id']}/preview", headers=headers)
    problems = {(p["row"], p["column"]) for p in preview.json()["problems"]}
    assert problems == {(2, "Email"), (3, "Manager"), (4, "Manager"), (5, "Email")}


async def test_an_import_beyond_the_seats_is_refused_with_nothing_written(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=3)
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    data = people_csv([[f"p{i}@corp.example", f"P{i}", "", "", "", ""] for i in range(5)])
    record = await upload(client, tenant, headers, data)
    base = f"{host(tenant)}/api/v1/admin/imports/{record['id']}"
    preview = (await client.post(f"{base}/preview", headers=headers)).json()
    assert preview["result"]["over_seats"] is True
    assert preview["result"]["accounts_after"] == 6
    refused = await client.post(f"{base}/apply", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "seat_limit_reached"
    assert await users_in(db, tenant) == 1
    after = (await client.get(base, headers=headers)).json()
    assert after["status"] == "previewed"
    assert "seats" in after["failure"]


async def test_bad_files_and_mappings_name_the_field(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    url = f"{host(tenant)}/api/v1/admin/imports"
    for data in (b"", b"\xff\xfe\x00bad", b"\n\n"):
        answer = await client.post(url, files={"file": ("x.csv", data, "text/csv")}, headers=headers)
        assert answer.status_code in (400, 422), data
        assert answer.json()["error"]["field"] == "file"
    no_file = await client.post(url, data={"nope": "1"}, headers=headers)
    assert no_file.status_code in (400, 422)
    record = await upload(client, tenant, headers, people_csv([["a@b.example", "A", "", "", "", ""]], delimiter=";"))
    assert record["mapping"]["email"] == "Email"  # semicolons are read too
    missing = await client.put(f"{url}/{record['id']}/settings", json={"mapping": {"email": "Email"}}, headers=headers)
    assert missing.status_code in (400, 422)
    assert missing.json()["error"]["field"] == "mapping.display_name"
    unknown = await client.put(
        f"{url}/{record['id']}/settings", json={"mapping": {"email": "Email", "display_name": "Nope"}}, headers=headers
    )
    assert unknown.json()["error"]["field"] == "mapping.display_name"


async def test_export_escapes_formula_cells_and_imports_back(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"], display_name="Admin")
    await make_user(tenant, display_name='=HYPERLINK("http://evil")', groups=["+Sales", "@ops"], email="x@corp.example")
    headers = await login(admin)
    export = await client.get(f"{host(tenant)}/api/v1/admin/users/export.csv", headers=headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["email", "display_name", "external_id"]
    evil = next(r for r in rows if r[0] == "x@corp.example")
    assert evil[1] == '\'=HYPERLINK("http://evil")'
    assert evil[4] == "'+Sales;@ops"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


async def test_imports_of_another_tenant_are_invisible(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    theirs = await login(await make_user(other, roles=["tenant_admin"]))
    record = await upload(client, other, theirs, people_csv([["a@b.example", "A", "", "", "", ""]]))
    mine = await login(await make_user(tenant, roles=["tenant_admin"]))
    base = f"{host(tenant)}/api/v1/admin/imports/{record['id']}"
    assert (await client.get(base, headers=mine)).status_code == 404
    assert (await client.post(f"{base}/preview", headers=mine)).status_code == 404
    assert (await client.post(f"{base}/apply", headers=mine)).status_code == 404
    assert (await client.get(f"{base}/problems.csv", headers=mine)).status_code == 404
    assert (await client.put(f"{base}/settings", json={"mapping": {}}, headers=mine)).status_code in (404, 422)
    listed = await client.get(f"{host(tenant)}/api/v1/admin/imports", headers=mine)
    assert listed.json()["total"] == 0
    learner = await login(await make_user(tenant))
    assert (await client.get(f"{host(tenant)}/api/v1/admin/imports", headers=learner)).status_code == 403
    assert (await client.get(f"{host(tenant)}/api/v1/admin/users/export.csv", headers=learner)).status_code == 403


async def test_a_large_file_is_previewed_and_applied_by_the_worker(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, worker: Any
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    rows = [[f"bulk{i}@corp.example", f"Bulk Person Number {i}", f"B-{i:06d}", "Field", "", ""] for i in range(6000)]
    record = await upload(client, tenant, headers, people_csv(rows))
    base = f"{host(tenant)}/api/v1/admin/imports/{record['id']}"
    queued = await client.post(f"{base}/preview", headers=headers)
    assert queued.status_code == 202, queued.text

    async def status_is(wanted: str) -> Any:
        body = (await client.get(base, headers=headers)).json()
        return body if body["status"] == wanted else None

    previewed = await eventually(lambda: status_is("previewed"), timeout=60)
    assert previewed["progress"] == 100
    assert previewed["result"]["created"] == 6000
    assert (await client.post(f"{base}/apply", headers=headers)).status_code == 202
    await eventually(lambda: status_is("applied"), timeout=60)
    assert await users_in(db, tenant) == 6001
    async with tenant_session(db.app_sessions, tenant.id) as session:
        entry = await session.scalar(select(AdminAuditEntry).where(AdminAuditEntry.action == "users.imported"))
    assert entry is not None  # applied by the worker, audited like an import applied in the request
    assert entry.actor_user_id == admin.id
    assert entry.after is not None
    assert entry.after["created"] == 6000


async def test_a_manager_whose_own_row_is_refused_takes_their_reports_rows_with_them(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    data = people_csv(
        [
            ["lead@corp.example", "Lead", "", "", "ghost@corp.example", ""],  # unknown manager
            ["member@corp.example", "Member", "", "", "lead@corp.example", ""],  # manager refused above
            ["solo@corp.example", "Solo", "", "", "", ""],
        ]
    )
    record = await upload(client, tenant, headers, data)
    _, applied = await preview_and_apply(client, tenant, headers, record["id"])
    assert {(p["row"], p["column"]) for p in applied["problems"]} == {(2, "Manager"), (3, "Manager")}
    assert applied["result"]["created"] == 1
    assert await users_in(db, tenant) == 2


async def test_invitations_for_new_people_go_out_through_the_job(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, worker: Any
) -> None:
    tenant = await make_tenant(seats=0)
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    await make_user(tenant, email="already@corp.example")
    data = people_csv(
        [
            ["already@corp.example", "Already Here", "", "", "", ""],
            ["fresh1@corp.example", "Fresh One", "", "", "", ""],
            ["fresh2@corp.example", "Fresh Two", "", "", "", ""],
        ]
    )
    record = await upload(client, tenant, headers, data)
    settings = await client.put(
        f"{host(tenant)}/api/v1/admin/imports/{record['id']}/settings",
        json={"mapping": record["mapping"], "send_invitations": True},
        headers=headers,
    )
    assert settings.status_code == 200
    _, applied = await preview_and_apply(client, tenant, headers, record["id"])
    assert applied["result"]["created"] == 2

    async def invited() -> list[str] | None:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            rows = await session.execute(select(EmailMessage.recipient).order_by(EmailMessage.recipient))
            recipients = [r for (r,) in rows]
        return recipients if len(recipients) >= 2 else None

    assert await eventually(invited, timeout=60) == ["fresh1@corp.example", "fresh2@corp.example"]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        fresh = (await session.execute(select(User).where(User.email == "fresh1@corp.example"))).scalar_one()
    assert fresh.status.value == "invited"


def people_workbook(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_an_excel_workbook_imports_like_the_same_csv(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    # Employee numbers typed as numbers come back without ".0"; an empty cell stays empty.
    rows = [
        ["ada@corp.example", "Ada", 1001, "Sales", None, "learner"],
        ["bob@corp.example", "Bob", 1002, "Ops", "ada@corp.example", "learner"],
        ["not-an-email", "Broken", 1003, "Ops", None, "learner"],
    ]
    first = await upload(client, tenant, headers, people_workbook(rows), name="people.xlsx")
    assert first["headers"] == HEADER
    assert first["mapping"]["external_id"] == "Employee ID"
    preview, applied = await preview_and_apply(client, tenant, headers, first["id"])
    assert preview["result"]["created"] == 2
    assert [(p["row"], p["column"]) for p in preview["problems"]] == [(4, "Email")]
    assert applied["result"]["created"] == 2
    async with tenant_session(db.app_sessions, tenant.id) as session:
        ada = await session.scalar(select(User).where(User.email == "ada@corp.example"))
    assert ada is not None
    assert ada.external_id == "1001"

    # A file that only looks like a workbook, and an empty one, are refused naming the field.
    broken = await client.post(
        f"{host(tenant)}/api/v1/admin/imports",
        files={"file": ("people.xlsx", b"PK\x03\x04 not really a zip archive", "application/octet-stream")},
        headers=headers,
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["field"] == "file"
    assert "Excel workbook" in broken.json()["error"]["message"]
