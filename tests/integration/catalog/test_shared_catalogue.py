"""Operators share a course with every tenant; each tenant decides whether to offer it."""

from __future__ import annotations

from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor, learner


async def test_operator_shares_a_course_that_another_tenant_offers(
    client: Client, operator_token: str, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    source, adopter = await make_tenant(), await make_tenant()
    _, author = await instructor(make_user, login, source)
    course = await build_course(client, source, author, title="Anti-bribery")
    operator = {"Authorization": f"Bearer {operator_token}"}
    url = f"{host(source)}/api/v1/operator/catalog/courses"

    shared = await client.post(
        url,
        json={"tenant_id": str(source.id), "course_id": course.id, "slug": f"shared-{course.id[-12:]}"},
        headers=operator,
    )
    assert shared.status_code == 201, shared.text
    shared_id = shared.json()["id"]
    assert shared_id != course.id
    wrong_tenant = await client.post(url, json={"tenant_id": str(adopter.id), "course_id": course.id}, headers=operator)
    assert wrong_tenant.status_code == 404
    assert (
        await client.post(url, json={"tenant_id": str(source.id), "course_id": course.id}, headers=author)
    ).status_code == 403

    admin = await login(await make_user(adopter, roles=["tenant_admin"]))
    base = host(adopter)
    catalogue = (await client.get(f"{base}/api/v1/catalog/shared", params={"limit": 200}, headers=admin)).json()
    assert any(i["id"] == shared_id and not i["offered"] for i in catalogue["items"])
    assert (await client.put(f"{base}/api/v1/catalog/shared/{shared_id}/offer", headers=admin)).status_code == 200

    _, student = await learner(make_user, login, adopter)
    outline = (await client.get(f"{base}/api/v1/courses/{shared_id}", headers=student)).json()
    assert outline["shared"] is True
    assert [lesson["title"] for lesson in outline["modules"][0]["lessons"]] == ["Intro video", "Reading"]
    joined = await client.post(f"{base}/api/v1/enrollments", json={"course_id": shared_id}, headers=student)
    assert joined.status_code == 201
    reading = outline["modules"][0]["lessons"][1]["id"]
    lesson = await client.get(f"{base}/api/v1/me/learning/courses/{shared_id}/lessons/{reading}", headers=student)
    assert lesson.json()["content"] == {"body": "Keep data safe."}

    archived = await client.post(f"{url}/{shared_id}/archive", headers=operator)
    assert archived.json()["status"] == "archived"
    _, late = await learner(make_user, login, adopter)
    assert (
        await client.post(f"{base}/api/v1/enrollments", json={"course_id": shared_id}, headers=late)
    ).status_code == 404
