"""Bulk import at a size where it runs set-based: an admin imports 2,000 people with problems of every
kind (found while reading the file and found against the site's people), the preview's numbers are the
import's, importing the same file again changes nothing, and another tenant's people are never matched,
managed or deactivated; a large import reports its progress through every stage."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.lib.storage import storage_for
from lms.organisation.models import ImportStatus
from lms.organisation.services.imports import UserImports
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, host

Client = AsyncTestClient[Litestar]
HEADER = ["Email", "Name", "Employee ID", "Groups", "Manager", "Role", "Language"]


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def two_thousand_rows() -> tuple[list[list[str]], set[tuple[int, str, str]]]:
    """The file's rows and the problems expected, as (row, column, reason); row 1 is the header."""
    rows = [["boss@corp.example", "Big Boss", "E-0000", "Board", "", "learner", "en"]]
    for i in range(1, 2000):
        rows.append(
            [
                f"person{i}@corp.example",
                f"Person {i}",
                f"E-{i:04d}",
                f"Dept {i % 7}",
                # Every third person's manager is created by the same file.
                "boss@corp.example" if i % 3 else "person1@corp.example",
                "learner",
                "de" if i % 2 else "",
            ]
        )

    def row(number: int) -> list[str]:
        return rows[number - 2]

    problems: set[tuple[int, str, str]] = set()

    def expect(number: int, column: str, reason: str) -> None:
        problems.add((number, column, reason))

    # Found while reading the file.
    row(100)[0] = "not-an-email"
    expect(100, "Email", "not an e-mail address")
    row(200)[0] = "PERSON1@corp.example"
    expect(200, "Email", "this e-mail address is already in an earlier row")
    row(300)[2] = "E-0002"
    expect(300, "Employee ID", "this external id is already in an earlier row")
    row(400)[5] = "learner; wizard"
    expect(400, "Role", "unknown role 'wizard' (use learner, instructor, tenant_admin)")
    row(500)[6] = "xx"
    expect(500, "Language", "unknown language (use en, de or fr)")
    row(600)[4] = "not an address"
    expect(600, "Manager", "not an e-mail address")
    row(700)[1] = " "
    expect(700, "Name", "the name is missing")
    row(750)[3] = "x" * 201
    expect(750, "Groups", "a group name is longer than 200 characters")
    # Found against the site's people and the rest of the file.
    row(800)[0] = "other@corp.example"  # an account whose external id is X-OTHER, not this row's
    expect(800, "Employee ID", "this user already has a different external id")
    row(810)[2] = "X-TAKEN"  # names taken@, while the row's e-mail is new
    row(810)[0] = "third@corp.example"  # ... and this e-mail is another account's
    expect(810, "Email", "this e-mail address belongs to another user")
    row(850)[4] = "ghost@corp.example"
    expect(850, "Manager", "no user with this e-mail address in this site, and no valid row for it in the file")
    row(860)[4] = row(860)[0]
    expect(860, "Manager", "a user cannot be their own manager")
    row(880)[4] = "person698@corp.example"  # row 700, refused above (its name is missing)
    expect(880, "Manager", "no user with this e-mail address in this site, and no valid row for it in the file")
    return rows, problems


async def start(client: Client, tenant: Tenant, headers: dict[str, str], data: bytes, **settings: Any) -> str:
    url = f"{host(tenant)}/api/v1/admin/imports"
    answer = await client.post(url, files={"file": ("people.csv", data, "text/csv")}, headers=headers)
    assert answer.status_code == 201, answer.text
    record = answer.json()
    if settings:
        changed = await client.put(
            f"{url}/{record['id']}/settings", json={"mapping": record["mapping"], **settings}, headers=headers
        )
        assert changed.status_code == 200, changed.text
    return f"{url}/{record['id']}"


async def preview_then_apply(client: Client, base: str, headers: dict[str, str]) -> tuple[Any, Any]:
    preview = await client.post(f"{base}/preview", headers=headers)
    assert preview.status_code == 200, preview.text
    applied = await client.post(f"{base}/apply", headers=headers)
    assert applied.status_code == 200, applied.text
    return preview.json(), applied.json()


def problems_of(body: Any) -> set[tuple[int, str, str]]:
    return {(p["row"], p["column"], p["reason"]) for p in body["problems"]}


async def people(db: Database, tenant: Tenant) -> dict[str, tuple[UUID, datetime, str]]:
    """e-mail -> (id, updated_at, status) of every account of the tenant."""
    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = await session.execute(select(User.email, User.id, User.updated_at, User.status))
        return {email: (user_id, updated, status.value) for email, user_id, updated, status in rows}


async def test_2000_people_with_every_kind_of_problem_then_the_same_file_again_changes_nothing(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    headers = await login(await make_user(tenant, roles=["tenant_admin"], email="admin@corp.example"))
    await make_user(tenant, email="other@corp.example", external_id="X-OTHER")
    await make_user(tenant, email="taken@corp.example", external_id="X-TAKEN")
    await make_user(tenant, email="third@corp.example")
    rows, expected = two_thousand_rows()
    data = as_csv(rows)
    valid = 2000 - len(expected)  # 2,000 data rows; "other@" is refused, so nobody is updated

    base = await start(client, tenant, headers, data)
    preview, applied = await preview_then_apply(client, base, headers)
    assert problems_of(preview) == expected
    assert preview["error_count"] == len(expected)
    assert preview["total_rows"] == 2000
    assert preview["result"] == {**preview["result"], "created": valid, "updated": 0, "unchanged": 0}
    assert applied["status"] == "applied"
    assert applied["result"] == preview["result"]
    assert problems_of(applied) == expected
    report = await client.get(f"{base}/problems.csv", headers=headers)
    assert len(report.text.splitlines()) == 1 + len(expected)

    after = await people(db, tenant)
    assert len(after) == 4 + valid
    assert applied["result"]["accounts_after"] == len(after)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        boss = await session.scalar(select(User).where(User.email == "boss@corp.example"))
        first = await session.scalar(select(User).where(User.email == "person1@corp.example"))
        third = await session.scalar(select(User).where(User.email == "person3@corp.example"))
        fourth = await session.scalar(select(User).where(User.email == "person4@corp.example"))
    assert boss is not None
    assert first is not None
    assert third is not None
    assert fourth is not None
    assert (fourth.manager_id, fourth.groups, fourth.locale) == (boss.id, ["Dept 4"], None)
    assert (third.manager_id, third.locale) == (first.id, "de")  # a manager created by the same file

    # The same file again: the same problems, nothing created or updated, no account written.
    again = await start(client, tenant, headers, data)
    preview, applied = await preview_then_apply(client, again, headers)
    assert problems_of(applied) == expected
    assert preview["result"] == applied["result"]
    assert applied["result"] == {**applied["result"], "created": 0, "updated": 0, "unchanged": valid}
    assert await people(db, tenant) == after

    # A changed file, leavers deactivated: the preview's numbers are what applying does.
    rows[10][1] = "Person Renamed"
    rows[11][3] = "Dept Moved"
    changed = await start(client, tenant, headers, as_csv(rows[:1500]), deactivate_missing=True)
    preview, applied = await preview_then_apply(client, changed, headers)
    assert preview["result"] == applied["result"]
    assert applied["result"]["updated"] == 2
    # Everyone valid beyond row 1,501 leaves, and so do third@ and taken@; never the admin.
    left = {email for email, (_, _, status) in (await people(db, tenant)).items() if status == "deactivated"}
    assert applied["result"]["deactivated"] == len(left)
    assert {"third@corp.example", "taken@corp.example", "person1999@corp.example"} <= left
    assert "admin@corp.example" not in left
    assert "person1400@corp.example" not in left


async def test_an_import_never_matches_manages_or_deactivates_another_tenants_people(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    mine, theirs = await make_tenant(seats=0), await make_tenant(seats=0)
    headers = await login(await make_user(mine, roles=["tenant_admin"]))
    await make_user(theirs, email="shared@corp.example", external_id="S-1", display_name="Theirs")
    await make_user(theirs, email="boss@theirs.example")
    before = await people(db, theirs)
    data = as_csv(
        [
            ["shared@corp.example", "Mine", "S-1", "Ops", "", "", ""],
            ["led@corp.example", "Led", "S-2", "", "boss@theirs.example", "", ""],
        ]
    )
    base = await start(client, mine, headers, data, deactivate_missing=True)
    preview, applied = await preview_then_apply(client, base, headers)
    assert problems_of(applied) == {
        (3, "Manager", "no user with this e-mail address in this site, and no valid row for it in the file")
    }
    assert applied["result"] == preview["result"]
    assert applied["result"] == {**applied["result"], "created": 1, "updated": 0, "deactivated": 0}
    assert await people(db, theirs) == before  # their account with the same e-mail and external id untouched
    async with tenant_session(db.app_sessions, mine.id) as session:
        created = await session.scalar(select(User).where(User.external_id == "S-1"))
        count = await session.scalar(select(func.count()).select_from(User))
    assert created is not None
    assert created.display_name == "Mine"
    assert created.id != before["shared@corp.example"][0]
    assert count == 2


async def test_a_large_import_reports_its_progress_through_reading_matching_and_writing(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    data = as_csv([[f"p{i}@corp.example", f"P {i}", f"E{i}", "Ops", "", "", ""] for i in range(12_000)])
    seen: list[int] = []

    async def report(percent: int) -> None:
        seen.append(percent)

    async with tenant_session(db.app_sessions, tenant.id) as session:
        imports = UserImports(session, tenant.id, settings, storage_for(settings))
        record = await imports.upload("people.csv", io.BytesIO(data), len(data), admin.id)
        record.status = ImportStatus.APPLYING.value
        await imports.run(record, admin.id, report)
        assert record.status == ImportStatus.APPLIED.value
    assert seen == sorted(seen)
    assert 0 < seen[0] <= 70  # reading the file (every 10,000 rows)
    assert seen[1:] == [75, 80, 88, 95]  # staged, matched, updated, created
    assert record.progress == 100
