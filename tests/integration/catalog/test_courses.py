"""Instructors build, order, publish and roll back courses; learners see only released ones."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from lms.db.engines import Database
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.factories import catalog
from tests.integration.catalog.helpers import Client, build_course, instructor, learner


async def test_instructor_builds_and_publishes_a_course(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, student = await learner(make_user, login, tenant)
    draft = await build_course(client, tenant, author, publish=False, tags=["gdpr", "privacy"], price_cents=0)

    hidden = await client.get(f"{draft.base}/api/v1/courses/{draft.id}", headers=student)
    assert hidden.status_code == 404

    published = await client.post(
        f"{draft.base}/api/v1/courses/{draft.id}/publish", json={"note": "v1"}, headers=author
    )
    assert published.json()["number"] == 1

    seen = await client.get(f"{draft.base}/api/v1/courses/{draft.id}", headers=student)
    assert seen.status_code == 200
    body = seen.json()
    assert body["status"] == "published"
    assert body["current_version"] == 1
    assert [lesson["title"] for lesson in body["modules"][0]["lessons"]] == ["Intro video", "Reading"]
    assert body["modules"][0]["lessons"][1]["content"] == {}  # content only once enrolled

    listing = await client.get(f"{draft.base}/api/v1/courses", headers=student)
    assert [c["id"] for c in listing.json()["items"]] == [draft.id]


async def test_learner_cannot_author(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, student = await learner(make_user, login, tenant)
    response = await client.post(
        f"{host(tenant)}/api/v1/courses", json={"title": "Mine", "slug": "mine"}, headers=student
    )
    assert response.status_code == 403


async def test_bad_course_input_names_the_field(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    bad = await client.post(f"{host(tenant)}/api/v1/courses", json={"title": "X", "slug": "Not A Slug"}, headers=author)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "slug"
    built = await build_course(client, tenant, author, publish=False)
    taken = await client.post(
        f"{host(tenant)}/api/v1/courses",
        json={
            "title": "Again",
            "slug": (await client.get(f"{built.base}/api/v1/courses/{built.id}", headers=author)).json()["slug"],
        },
        headers=author,
    )
    assert taken.status_code == 409
    video = await client.post(
        f"{built.base}/api/v1/courses/{built.id}/modules/{built.modules[0]}/lessons",
        json={"title": "No length", "type": "video"},
        headers=author,
    )
    assert video.status_code == 422
    assert video.json()["error"]["field"] == "duration_seconds"


async def test_reorder_keeps_positions_consistent_under_concurrent_edits(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    built = await build_course(
        client,
        tenant,
        author,
        publish=False,
        lessons=[{"title": t, "type": "text"} for t in ("a", "b", "c", "d")],
    )
    url = f"{built.base}/api/v1/courses/{built.id}/modules/{built.modules[0]}/lessons/order"
    ids = [built.lessons[t] for t in ("a", "b", "c", "d")]
    orders = [list(reversed(ids)), [ids[1], ids[0], ids[3], ids[2]], [ids[2], ids[3], ids[0], ids[1]]]
    responses = await asyncio.gather(*(client.put(url, json={"ids": o}, headers=author) for o in orders))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]

    course = (await client.get(f"{built.base}/api/v1/courses/{built.id}", headers=author)).json()
    lessons = course["modules"][0]["lessons"]
    assert [lesson["position"] for lesson in lessons] == [1, 2, 3, 4]
    assert [lesson["id"] for lesson in lessons] in orders  # one whole order won, never a mix

    incomplete = await client.put(url, json={"ids": ids[:3]}, headers=author)
    assert incomplete.status_code == 409
    unknown = await client.put(url, json={"ids": [*ids, str(uuid.uuid4())]}, headers=author)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "ids"


async def test_rollback_restores_an_earlier_version(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    built = await build_course(client, tenant, author)
    lesson_id = built.lessons["Reading"]
    await client.patch(
        f"{built.base}/api/v1/courses/{built.id}/lessons/{lesson_id}", json={"title": "Reading v2"}, headers=author
    )
    await client.post(f"{built.base}/api/v1/courses/{built.id}/publish", json={"note": "v2"}, headers=author)
    versions = (await client.get(f"{built.base}/api/v1/courses/{built.id}/versions", headers=author)).json()
    assert versions["total"] == 2
    assert [(v["number"], v["current"]) for v in versions["items"]] == [(2, True), (1, False)]

    rolled = await client.post(f"{built.base}/api/v1/courses/{built.id}/versions/1/rollback", headers=author)
    assert rolled.status_code == 200
    assert rolled.json()["current_version"] == 1
    assert rolled.json()["modules"][0]["lessons"][1]["title"] == "Reading"
    missing = await client.post(f"{built.base}/api/v1/courses/{built.id}/versions/9/rollback", headers=author)
    assert missing.status_code == 404


async def test_scheduled_release_hides_the_course_until_publish_at(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, student = await learner(make_user, login, tenant)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    built = await build_course(client, tenant, author, publish=False)
    await client.post(f"{built.base}/api/v1/courses/{built.id}/publish", json={"publish_at": later}, headers=author)
    assert (await client.get(f"{built.base}/api/v1/courses/{built.id}", headers=student)).status_code == 404


async def test_shared_catalogue_course_is_visible_but_read_only(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    async with db.operator_sessions() as session, session.begin():
        shared = await catalog.make_course(session, None, status="published", title="Shared compliance")
    seen = await client.get(f"{host(tenant)}/api/v1/courses/{shared.id}", headers=headers)
    assert seen.status_code == 200
    assert seen.json()["shared"] is True
    change = await client.patch(f"{host(tenant)}/api/v1/courses/{shared.id}", json={"title": "Mine"}, headers=headers)
    assert change.status_code == 403


async def test_cross_tenant_courses_are_not_found_and_foreign_tokens_refused(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    a, b = await make_tenant(), await make_tenant()
    _, author_a = await instructor(make_user, login, a)
    _, author_b = await instructor(make_user, login, b)
    course_b = await build_course(client, b, author_b)
    url_on_a = f"{host(a)}/api/v1/courses/{course_b.id}"
    assert (await client.get(url_on_a, headers=author_a)).status_code == 404
    assert (await client.patch(url_on_a, json={"title": "x"}, headers=author_a)).status_code == 404
    assert (await client.post(f"{url_on_a}/publish", json={}, headers=author_a)).status_code == 404
    # A's token on B's host
    assert (await client.get(f"{host(b)}/api/v1/courses/{course_b.id}", headers=author_a)).status_code == 401


async def test_content_learners_are_on_cannot_be_deleted_until_they_are_migrated(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, student = await learner(make_user, login, tenant)
    built = await build_course(client, tenant, author)
    await client.post(f"{built.base}/api/v1/enrollments", json={"course_id": built.id}, headers=student)
    url = f"{built.base}/api/v1/courses/{built.id}/lessons/{built.lessons['Reading']}"

    refused = await client.delete(url, headers=author)
    assert refused.status_code == 409
    assert "migrate" in refused.json()["error"]["message"]
    module_url = f"{built.base}/api/v1/courses/{built.id}/modules/{built.modules[0]}"
    assert (await client.delete(module_url, headers=author)).status_code == 409

    # An unpublished lesson nobody is on can go at once.
    extra = await client.post(
        f"{built.base}/api/v1/courses/{built.id}/modules/{built.modules[0]}/lessons",
        json={"title": "Draft only", "type": "file"},
        headers=author,
    )
    deleted = await client.delete(
        f"{built.base}/api/v1/courses/{built.id}/lessons/{extra.json()['id']}", headers=author
    )
    assert deleted.status_code == 200
