"""Learners enrol themselves; admins assign with due dates, in bulk; seats are respected."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from lms.db.engines import Database
from lms.learning.services import expire_enrollments
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.factories import catalog
from tests.integration.catalog.helpers import Client, build_course, instructor, learner


async def test_self_enrolment_is_idempotent(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    user, student = await learner(make_user, login, tenant)
    course = await build_course(client, tenant, author)
    url = f"{course.base}/api/v1/enrollments"

    first = await client.post(url, json={"course_id": course.id}, headers=student)
    again = await client.post(url, json={"course_id": course.id}, headers=student)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["user_id"] == str(user.id)
    assert first.json()["version"] == 1
    assert first.json()["source"] == "self"
    popular = (await client.get(f"{course.base}/api/v1/courses/{course.id}", headers=student)).json()
    assert popular["enrollment_count"] == 1


async def test_self_enrolment_refused_when_course_does_not_allow_it_or_is_draft(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, student = await learner(make_user, login, tenant)
    closed = await build_course(client, tenant, author, self_enrollment=False)
    draft = await build_course(client, tenant, author, publish=False)
    url = f"{host(tenant)}/api/v1/enrollments"
    refused = await client.post(url, json={"course_id": closed.id}, headers=student)
    assert refused.status_code == 403
    assert "self-enrolment" in refused.json()["error"]["message"]
    assert (await client.post(url, json={"course_id": draft.id}, headers=student)).status_code == 404
    unknown = await client.post(url, json={"course_id": str(uuid.uuid4())}, headers=student)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "course_id"
    # assigning others is for authors only
    other, _ = await learner(make_user, login, tenant)
    assign = await client.post(url, json={"course_id": closed.id, "user_id": str(other.id)}, headers=student)
    assert assign.status_code == 403


async def test_admin_assigns_in_bulk_with_due_date_and_learner_sees_due_items(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, self_enrollment=False)
    late_course = await build_course(client, tenant, author, self_enrollment=False, title="Fire drill")
    users = [await make_user(tenant) for _ in range(3)]
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    response = await client.post(
        f"{course.base}/api/v1/enrollments/bulk",
        json={"course_id": course.id, "user_ids": [str(u.id) for u in users] + [str(uuid.uuid4())], "due_at": due},
        headers=author,
    )
    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in response.json()]
    assert statuses == ["enrolled", "enrolled", "enrolled", "rejected"]
    assert response.json()[3]["error"]["code"] == "not_found"

    again = await client.post(
        f"{course.base}/api/v1/enrollments/bulk",
        json={"course_id": course.id, "user_ids": [str(users[0].id)]},
        headers=author,
    )
    assert again.json()[0]["status"] == "already_enrolled"

    overdue_at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assigned = await client.post(
        f"{course.base}/api/v1/enrollments",
        json={"course_id": late_course.id, "user_id": str(users[0].id), "due_at": overdue_at},
        headers=author,
    )
    assert assigned.status_code == 201
    assert assigned.json()["source"] == "admin"

    learner_headers = await login(users[0])
    due_items = (await client.get(f"{course.base}/api/v1/me/learning/due", headers=learner_headers)).json()["items"]
    assert [(d["title"], d["overdue"]) for d in due_items] == [("Fire drill", True), ("Data privacy essentials", False)]


async def test_seat_limit_blocks_new_learners_but_not_existing_ones(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    # Team blocks past the licence (enterprise would bill the overage instead).
    tenant = await make_tenant(seats=1, plan=Plan.TEAM)
    _, author = await instructor(make_user, login, tenant)
    first = await build_course(client, tenant, author)
    second = await build_course(client, tenant, author)
    holder, holder_headers = await learner(make_user, login, tenant)
    _, newcomer = await learner(make_user, login, tenant)
    url = f"{host(tenant)}/api/v1/enrollments"
    assert (await client.post(url, json={"course_id": first.id}, headers=holder_headers)).status_code == 201
    # the same learner takes no extra seat for a second course
    assert (await client.post(url, json={"course_id": second.id}, headers=holder_headers)).status_code == 201
    blocked = await client.post(url, json={"course_id": first.id}, headers=newcomer)
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "seat_limit_reached"
    assert holder.id


async def test_learners_join_shared_courses_only_once_their_site_offers_them(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, elsewhere = await make_tenant(), await make_tenant()
    _, student = await learner(make_user, login, tenant)
    admin = await login(await make_user(tenant, roles=["tenant_admin"]))
    async with db.operator_sessions() as session, session.begin():
        shared = await catalog.make_course(session, None, status="published", title="Shared ethics")
        module = await catalog.make_module(session, None, course=shared)
        await catalog.make_lesson(session, None, module=module)
    base = host(tenant)
    enrol = {"course_id": str(shared.id)}
    assert (await client.get(f"{base}/api/v1/courses/{shared.id}", headers=student)).status_code == 404
    assert (await client.post(f"{base}/api/v1/enrollments", json=enrol, headers=student)).status_code == 404

    listed = (await client.get(f"{base}/api/v1/catalog/shared", headers=admin)).json()["items"]
    assert {"id": str(shared.id), "offered": False}.items() <= next(
        i for i in listed if i["id"] == str(shared.id)
    ).items()
    assert (await client.put(f"{base}/api/v1/catalog/shared/{shared.id}/offer", headers=student)).status_code == 403
    offered = await client.put(f"{base}/api/v1/catalog/shared/{shared.id}/offer", headers=admin)
    assert offered.json()["offered"] is True
    assert (await client.put(f"{base}/api/v1/catalog/shared/{shared.id}/offer", headers=admin)).status_code == 200

    assert (await client.get(f"{base}/api/v1/courses/{shared.id}", headers=student)).json()["shared"] is True
    joined = await client.post(f"{base}/api/v1/enrollments", json=enrol, headers=student)
    assert joined.status_code == 201, joined.text
    # Offering is per tenant: another site's learners still cannot see it.
    _, other_student = await learner(make_user, login, elsewhere)
    assert (await client.get(f"{host(elsewhere)}/api/v1/courses/{shared.id}", headers=other_student)).status_code == 404

    withdrawn = await client.delete(f"{base}/api/v1/catalog/shared/{shared.id}/offer", headers=admin)
    assert withdrawn.status_code == 200
    _, newcomer = await learner(make_user, login, tenant)
    assert (await client.post(f"{base}/api/v1/enrollments", json=enrol, headers=newcomer)).status_code == 404


async def test_status_changes_and_cross_tenant_enrolments(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    a, b = await make_tenant(), await make_tenant()
    _, author_b = await instructor(make_user, login, b)
    course_b = await build_course(client, b, author_b)
    _, student_b = await learner(make_user, login, b)
    enrollment = (
        await client.post(f"{host(b)}/api/v1/enrollments", json={"course_id": course_b.id}, headers=student_b)
    ).json()

    admin_a = await login(await make_user(a, roles=["tenant_admin"]))
    _, student_a = await learner(make_user, login, a)
    assert (await client.get(f"{host(a)}/api/v1/enrollments/{enrollment['id']}", headers=admin_a)).status_code == 404
    refund = await client.post(
        f"{host(a)}/api/v1/enrollments/{enrollment['id']}/status", json={"status": "refunded"}, headers=admin_a
    )
    assert refund.status_code == 404
    cross = await client.post(f"{host(a)}/api/v1/enrollments", json={"course_id": course_b.id}, headers=student_a)
    assert cross.status_code == 404
    assert (await client.get(f"{host(b)}/api/v1/enrollments", headers=student_a)).status_code == 401

    admin_b = await login(await make_user(b, roles=["tenant_admin"]))
    refunded = await client.post(
        f"{host(b)}/api/v1/enrollments/{enrollment['id']}/status", json={"status": "refunded"}, headers=admin_b
    )
    assert refunded.json()["status"] == "refunded"
    mine = (await client.get(f"{host(b)}/api/v1/enrollments", headers=student_b)).json()
    assert [e["status"] for e in mine["items"]] == ["refunded"]


async def test_simultaneous_enrolment_requests_create_one_enrolment(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, student = await learner(make_user, login, tenant)
    course = await build_course(client, tenant, author)
    url = f"{course.base}/api/v1/enrollments"
    responses = await asyncio.gather(
        *(client.post(url, json={"course_id": course.id}, headers=student) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = (await client.get(url, headers=student)).json()
    assert listed["total"] == 1


async def test_enrolments_past_their_access_window_expire_and_stop_taking_progress(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author)
    user, student = await learner(make_user, login, tenant)
    ended = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assigned = await client.post(
        f"{course.base}/api/v1/enrollments",
        json={"course_id": course.id, "user_id": str(user.id), "expires_at": ended},
        headers=author,
    )
    assert assigned.json()["status"] == "active"

    assert await expire_enrollments(db) >= 1

    mine = (await client.get(f"{course.base}/api/v1/enrollments/{assigned.json()['id']}", headers=student)).json()
    assert mine["status"] == "expired"
    event = {
        "type": "lesson_viewed",
        "client_event_id": "after-expiry",
        "lesson_id": course.lessons["Reading"],
        "course_id": course.id,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    refused = await client.post(f"{course.base}/api/v1/progress/events", json={"events": [event]}, headers=student)
    assert refused.json()["results"][0]["error"]["code"] == "not_enrolled"
