"""An administrator assigns a course to a group (with a nested subgroup) or one person, with a due date;
the periodic job enrols new members once; recurring rules send people through the course again; the
compliance report counts who stands where and exports CSV. Other tenants and learners are kept out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from lms.catalog.models import Course
from lms.catalog.schemas import CourseStatus
from lms.compliance.services.jobs import apply_training_rules
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.learning.models import Enrollment, EnrollmentSource, EnrollmentStatus, LessonProgress
from lms.lib import clock
from lms.tenancy.models import Tenant
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host

Client = AsyncTestClient[Litestar]


async def published_course(db: Database, tenant: Tenant, title: str = "Fire safety") -> UUID:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await factories.catalog.make_course(session, tenant.id, title=title, status=CourseStatus.PUBLISHED)
        return course.id


async def group(db: Database, tenant: Tenant, name: str, parent_id: UUID | None = None) -> UUID:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return (await factories.organisation.make_org_group(session, tenant.id, name=name, parent_id=parent_id)).id


async def enrolments(db: Database, tenant: Tenant, course_id: UUID) -> dict[str, Enrollment]:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = await session.execute(
            select(User.email, Enrollment)
            .join(User, User.id == Enrollment.user_id)
            .where(Enrollment.course_id == course_id)
        )
        return {email: enrolment for email, enrolment in rows.all()}


async def test_a_group_rule_enrols_the_group_and_its_subgroup_with_a_relative_due_date(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"], email="admin@corp.example")
    headers = await login(admin)
    course_id = await published_course(db, tenant)
    company = await group(db, tenant, "Company")
    await group(db, tenant, "Berlin", parent_id=company)
    await make_user(tenant, email="top@corp.example", groups=["Company"])
    await make_user(tenant, email="nested@corp.example", groups=["Berlin"])
    await make_user(tenant, email="outside@corp.example", groups=["Elsewhere"])
    await make_user(tenant, email="gone@corp.example", groups=["Berlin"], status="deactivated")

    before = clock.now()
    created = await client.post(
        f"{host(tenant)}/api/v1/admin/training-assignments",
        json={"course_id": str(course_id), "group_id": str(company), "due_days": 14},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["enrolled"], body["group_name"], body["course_title"]) == (2, "Company", "Fire safety")

    enrolled = await enrolments(db, tenant, course_id)
    assert set(enrolled) == {"top@corp.example", "nested@corp.example"}
    nested = enrolled["nested@corp.example"]
    assert nested.source is EnrollmentSource.GROUP
    assert nested.assigned_by == admin.id
    assert nested.due_at is not None
    assert before + timedelta(days=14) <= nested.due_at <= clock.now() + timedelta(days=14)

    again = await client.post(
        f"{host(tenant)}/api/v1/admin/training-assignments",
        json={"course_id": str(course_id), "group_id": str(company), "due_days": 7},
        headers=headers,
    )
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "course_id"
    listed = await client.get(f"{host(tenant)}/api/v1/admin/training-assignments", headers=headers)
    assert [r["id"] for r in listed.json()["items"]] == [body["id"]]


async def test_a_person_rule_with_a_fixed_date_and_bad_input_is_refused_by_field(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    await make_user(tenant, email="pat@corp.example")
    course_id = await published_course(db, tenant)
    url = f"{host(tenant)}/api/v1/admin/training-assignments"
    async with tenant_session(db.app_sessions, tenant.id) as session:
        draft = (await factories.catalog.make_course(session, tenant.id, title="Draft")).id

    cases: list[tuple[dict[str, Any], str]] = [
        ({"course_id": str(draft), "user_email": "pat@corp.example", "due_days": 5}, "course_id"),
        ({"course_id": str(course_id), "due_days": 5}, "group_id"),
        ({"course_id": str(course_id), "user_email": "nobody@corp.example", "due_days": 5}, "user_email"),
        ({"course_id": str(course_id), "user_email": "pat@corp.example"}, "due_date"),
        ({"course_id": str(course_id), "user_email": "pat@corp.example", "due_date": "2020-01-01"}, "due_date"),
        (
            {
                "course_id": str(course_id),
                "user_email": "pat@corp.example",
                "due_date": "2099-01-01",
                "recur_months": 12,
            },
            "due_days",
        ),
    ]
    for payload, field in cases:
        refused = await client.post(url, json=payload, headers=headers)
        assert refused.status_code in (400, 422), (payload, refused.text)
        assert refused.json()["error"]["field"] == field, (payload, refused.text)
    too_many_days = await client.post(
        url, json={"course_id": str(course_id), "user_email": "pat@corp.example", "due_days": 99999}, headers=headers
    )
    assert too_many_days.status_code in (400, 422)
    assert (await client.get(url, headers=headers)).json()["total"] == 0

    created = await client.post(
        url,
        json={"course_id": str(course_id), "user_email": "PAT@corp.example", "due_date": "2099-03-31"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["enrolled"] == 1
    pat = (await enrolments(db, tenant, course_id))["pat@corp.example"]
    assert pat.due_at == datetime(2099, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert pat.source is EnrollmentSource.ADMIN


async def test_the_job_enrols_a_new_group_member_once_and_a_deleted_rule_keeps_enrolments(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    course_id = await published_course(db, tenant)
    sales = await group(db, tenant, "Sales")
    await make_user(tenant, email="first@corp.example", groups=["Sales"])
    created = await client.post(
        f"{host(tenant)}/api/v1/admin/training-assignments",
        json={"course_id": str(course_id), "group_id": str(sales), "due_days": 30},
        headers=headers,
    )
    assert created.status_code == 201, created.text

    await make_user(tenant, email="newcomer@corp.example", groups=["Sales"])
    assert set(await enrolments(db, tenant, course_id)) == {"first@corp.example"}
    assert (await apply_training_rules(db)).enrolled >= 1
    after_first = await enrolments(db, tenant, course_id)
    assert set(after_first) == {"first@corp.example", "newcomer@corp.example"}
    await apply_training_rules(db)
    after_second = await enrolments(db, tenant, course_id)
    assert {e: x.id for e, x in after_second.items()} == {e: x.id for e, x in after_first.items()}
    assert after_second["newcomer@corp.example"].due_at == after_first["newcomer@corp.example"].due_at

    rule_id = created.json()["id"]
    deleted = await client.delete(f"{host(tenant)}/api/v1/admin/training-assignments/{rule_id}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    await make_user(tenant, email="late@corp.example", groups=["Sales"])
    await apply_training_rules(db)
    assert set(await enrolments(db, tenant, course_id)) == {"first@corp.example", "newcomer@corp.example"}
    audit = await client.get(f"{host(tenant)}/api/v1/admin/audit", headers=headers)
    actions = [e["action"] for e in audit.json()["items"]]
    assert "training_rule.created" in actions
    assert "training_rule.deleted" in actions


async def test_a_recurring_rule_reopens_a_lapsed_completion_with_a_new_due_date(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    course_id = await published_course(db, tenant)
    person = await make_user(tenant, email="cert@corp.example")
    recent = await make_user(tenant, email="recent@corp.example")
    now = clock.now()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        old = await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=person.id,
            course_id=course_id,
            status=EnrollmentStatus.COMPLETED,
            completion_pct=100.0,
            completed_at=now - timedelta(days=400),
        )
        await factories.learning.make_lesson_progress(session, tenant.id, enrollment_id=old.id, user_id=person.id)
        await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=recent.id,
            course_id=course_id,
            status=EnrollmentStatus.COMPLETED,
            completion_pct=100.0,
            completed_at=now - timedelta(days=30),
        )
    url = f"{host(tenant)}/api/v1/admin/training-assignments"
    for email in ("cert@corp.example", "recent@corp.example"):
        made = await client.post(
            url,
            json={"course_id": str(course_id), "user_email": email, "due_days": 20, "recur_months": 12},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        assert made.json()["enrolled"] == 0  # already enrolled: kept as it is

    report = await client.get(
        f"{host(tenant)}/api/v1/admin/compliance", params={"course_id": str(course_id)}, headers=headers
    )
    assert report.json()["counts"]["expired"] == 1
    assert report.json()["counts"]["completed"] == 1

    assert (await apply_training_rules(db)).reopened >= 1
    after = await enrolments(db, tenant, course_id)
    again = after["cert@corp.example"]
    assert again.id == old.id
    assert again.status is EnrollmentStatus.ACTIVE
    assert (again.completion_pct, again.completed_at) == (0.0, None)
    assert again.due_at is not None
    assert again.due_at > clock.now() + timedelta(days=19)
    assert after["recent@corp.example"].status is EnrollmentStatus.COMPLETED
    async with tenant_session(db.app_sessions, tenant.id) as session:
        progress = (await session.execute(select(LessonProgress).where(LessonProgress.enrollment_id == old.id))).all()
    assert progress == []
    await apply_training_rules(db)
    assert (await enrolments(db, tenant, course_id))["cert@corp.example"].due_at == again.due_at


async def test_an_expired_certificate_sends_a_person_through_again(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    course_id = await published_course(db, tenant)
    person = await make_user(tenant, email="lapsed@corp.example")
    now = clock.now()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        done = await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=person.id,
            course_id=course_id,
            status=EnrollmentStatus.COMPLETED,
            completion_pct=100.0,
            completed_at=now - timedelta(days=40),
        )
        await factories.certificates.make_certificate(
            session,
            tenant.id,
            enrollment_id=done.id,
            user_id=person.id,
            course_id=course_id,
            issued_at=now - timedelta(days=40),
            expires_at=now - timedelta(days=1),
        )
    made = await client.post(
        f"{host(tenant)}/api/v1/admin/training-assignments",
        json={"course_id": str(course_id), "user_email": "lapsed@corp.example", "due_days": 10, "recur_months": 24},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    await apply_training_rules(db)
    assert (await enrolments(db, tenant, course_id))["lapsed@corp.example"].status is EnrollmentStatus.ACTIVE

    # Finished again (the old certificate is still the expired one): a new completion, left alone.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.id == done.id)
            .values(status=EnrollmentStatus.COMPLETED, completion_pct=100.0, completed_at=clock.now())
        )
    await apply_training_rules(db)
    assert (await enrolments(db, tenant, course_id))["lapsed@corp.example"].status is EnrollmentStatus.COMPLETED
    report = await client.get(
        f"{host(tenant)}/api/v1/admin/compliance", params={"course_id": str(course_id)}, headers=headers
    )
    assert report.json()["counts"]["completed"] == 1
    assert report.json()["counts"]["expired"] == 0


async def test_the_report_counts_states_filters_by_group_and_exports_safe_csv(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    course_id = await published_course(db, tenant)
    berlin = await group(db, tenant, "Berlin")
    now = clock.now()
    people = {
        "new": (await make_user(tenant, display_name="Nia New", groups=["Berlin"])).id,
        "busy": (await make_user(tenant, display_name="Ben Busy", groups=["Berlin"])).id,
        "done": (await make_user(tenant, display_name="Dora Done")).id,
        "late": (await make_user(tenant, display_name="=HYPERLINK(1)", groups=["Berlin"])).id,
        "ended": (await make_user(tenant, display_name="Eve Ended")).id,
    }
    states: dict[str, dict[str, Any]] = {
        "new": {"due_at": now + timedelta(days=5)},
        "busy": {"due_at": now + timedelta(days=5), "completion_pct": 40.0},
        "done": {"status": EnrollmentStatus.COMPLETED, "completion_pct": 100.0, "completed_at": now},
        "late": {"due_at": now - timedelta(days=2), "completion_pct": 10.0},
        "ended": {"status": EnrollmentStatus.EXPIRED},
    }
    async with tenant_session(db.app_sessions, tenant.id) as session:
        for key, fields in states.items():
            await factories.learning.make_enrollment(
                session, tenant.id, user_id=people[key], course_id=course_id, **fields
            )
    url = f"{host(tenant)}/api/v1/admin/compliance"
    everyone = await client.get(url, params={"course_id": str(course_id)}, headers=headers)
    assert everyone.status_code == 200, everyone.text
    assert everyone.json()["counts"] == {
        "assigned": 1,
        "in_progress": 1,
        "completed": 1,
        "overdue": 1,
        "expired": 1,
    }
    assert everyone.json()["items"][0]["state"] == "overdue"
    overdue = await client.get(url, params={"course_id": str(course_id), "state": "overdue"}, headers=headers)
    assert [r["display_name"] for r in overdue.json()["items"]] == ["=HYPERLINK(1)"]
    in_berlin = await client.get(url, params={"course_id": str(course_id), "group_id": str(berlin)}, headers=headers)
    assert in_berlin.json()["total"] == 3
    assert in_berlin.json()["counts"]["completed"] == 0

    exported = await client.get(
        f"{url}/export.csv", params={"course_id": str(course_id), "group_id": str(berlin)}, headers=headers
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["Name", "E-mail", "State"]
    assert len(rows) == 4
    assert rows[1][0] == "'=HYPERLINK(1)"
    assert rows[1][2] == "Overdue"
    bad_state = await client.get(url, params={"course_id": str(course_id), "state": "sleeping"}, headers=headers)
    assert bad_state.status_code in (400, 422)
    assert bad_state.json()["error"]["field"] == "state", bad_state.text


async def test_other_tenants_rules_are_not_found_and_learners_are_refused(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    theirs_headers = await login(await make_user(other, roles=["tenant_admin"]))
    their_course = await published_course(db, other)
    their_group = await group(db, other, "Theirs")
    their_rule = await client.post(
        f"{host(other)}/api/v1/admin/training-assignments",
        json={"course_id": str(their_course), "group_id": str(their_group), "due_days": 3},
        headers=theirs_headers,
    )
    assert their_rule.status_code == 201, their_rule.text
    rule_id = their_rule.json()["id"]

    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    url = f"{host(tenant)}/api/v1/admin/training-assignments"
    assert (await client.get(f"{url}/{rule_id}", headers=headers)).status_code == 404
    assert (await client.delete(f"{url}/{rule_id}", headers=headers)).status_code == 404
    foreign = await client.post(
        url, json={"course_id": str(their_course), "group_id": str(their_group), "due_days": 3}, headers=headers
    )
    assert foreign.status_code in (400, 422)
    assert foreign.json()["error"]["field"] == "course_id"
    report = await client.get(
        f"{host(tenant)}/api/v1/admin/compliance", params={"course_id": str(their_course)}, headers=headers
    )
    assert report.json()["total"] == 0
    assert (
        await client.get(f"{host(other)}/api/v1/admin/training-assignments/{rule_id}", headers=theirs_headers)
    ).status_code == 200

    learner = await login(await make_user(tenant))
    assert (await client.get(url, headers=learner)).status_code == 403
    assert (
        await client.get(
            f"{host(tenant)}/api/v1/admin/compliance", params={"course_id": str(their_course)}, headers=learner
        )
    ).status_code == 403
    assert (await client.post(url, json={}, headers=learner)).status_code == 403


async def test_a_rule_whose_course_was_archived_is_skipped_and_the_others_still_apply(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    archived = await published_course(db, tenant, "Old course")
    current = await published_course(db, tenant, "Current course")
    team = await group(db, tenant, "Team")
    await make_user(tenant, email="one@corp.example", groups=["Team"])
    for course_id in (archived, current):
        made = await client.post(
            f"{host(tenant)}/api/v1/admin/training-assignments",
            json={"course_id": str(course_id), "group_id": str(team), "due_days": 5},
            headers=headers,
        )
        assert made.status_code == 201, made.text
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(update(Course).where(Course.id == archived).values(status=CourseStatus.ARCHIVED))
    await make_user(tenant, email="two@corp.example", groups=["Team"])

    done = await apply_training_rules(db)
    assert done.enrolled >= 1
    assert set(await enrolments(db, tenant, current)) == {"one@corp.example", "two@corp.example"}
    assert set(await enrolments(db, tenant, archived)) == {"one@corp.example"}
