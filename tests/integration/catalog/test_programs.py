"""Instructors assemble learning paths from courses; learners see published paths in order."""

from __future__ import annotations

import uuid

from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor, learner


async def test_program_orders_courses_and_is_published(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, student = await learner(make_user, login, tenant)
    first = await build_course(client, tenant, author, title="Basics")
    second = await build_course(client, tenant, author, title="Advanced")
    _, other_author = await instructor(make_user, login, other)
    foreign = await build_course(client, other, other_author)
    base = f"{host(tenant)}/api/v1/programs"

    created = await client.post(
        base,
        json={"title": "Security path", "slug": "security-path", "course_ids": [first.id, second.id]},
        headers=author,
    )
    assert created.status_code == 201, created.text
    program = created.json()
    assert [c["title"] for c in program["courses"]] == ["Basics", "Advanced"]
    assert (await client.get(f"{base}/{program['id']}", headers=student)).status_code == 404  # draft

    reordered = await client.put(
        f"{base}/{program['id']}/courses", json={"course_ids": [second.id, first.id]}, headers=author
    )
    assert [(c["title"], c["position"]) for c in reordered.json()["courses"]] == [("Advanced", 1), ("Basics", 2)]
    bad = await client.put(f"{base}/{program['id']}/courses", json={"course_ids": [foreign.id]}, headers=author)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "course_ids"
    unknown = await client.put(
        f"{base}/{program['id']}/courses", json={"course_ids": [str(uuid.uuid4())]}, headers=author
    )
    assert unknown.status_code == 422

    published = await client.post(f"{base}/{program['id']}/status", json={"status": "published"}, headers=author)
    assert published.json()["status"] == "published"
    seen = (await client.get(f"{base}/{program['id']}", headers=student)).json()
    assert [c["title"] for c in seen["courses"]] == ["Advanced", "Basics"]
    assert (await client.post(base, json={"title": "x", "slug": "x-path"}, headers=student)).status_code == 403
    duplicate = await client.post(base, json={"title": "Again", "slug": "security-path"}, headers=author)
    assert duplicate.status_code == 409

    # Another tenant neither sees nor changes it; a token on the wrong host is refused.
    _, outsider = await learner(make_user, login, other)
    assert (await client.get(f"{host(other)}/api/v1/programs/{program['id']}", headers=outsider)).status_code == 404
    change = await client.put(
        f"{host(other)}/api/v1/programs/{program['id']}/courses", json={"course_ids": []}, headers=other_author
    )
    assert change.status_code == 404
    assert (await client.get(f"{base}/{program['id']}", headers=outsider)).status_code == 401
