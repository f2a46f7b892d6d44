"""The course list (one statement per page): who sees what, totals on every page and past the end,
version numbers, the author's status filter, and no other tenant's courses."""

from __future__ import annotations

import pytest

from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor, learner


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (2, 1), (50, 0), (5, 3), (5, 50)])
async def test_pages_carry_the_total_and_the_right_rows(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, limit: int, offset: int
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, reader = await learner(make_user, login, tenant)
    published = [await build_course(client, tenant, author, title=f"Course {n}") for n in range(3)]
    draft = await build_course(client, tenant, author, title="Draft", publish=False)
    _, foreign_author = await instructor(make_user, login, other)
    await build_course(client, other, foreign_author, title="Foreign")
    newest_first = [c.id for c in reversed(published)]

    seen = (await client.get(f"{draft.base}/api/v1/courses?limit={limit}&offset={offset}", headers=reader)).json()
    assert seen["total"] == 3
    assert [c["id"] for c in seen["items"]] == newest_first[offset : offset + limit]
    assert all(c["current_version"] == 1 and c["status"] == "published" for c in seen["items"])

    everything = (await client.get(f"{draft.base}/api/v1/courses?limit={limit}&offset={offset}", headers=author)).json()
    assert everything["total"] == 4
    assert [c["id"] for c in everything["items"]] == [draft.id, *newest_first][offset : offset + limit]

    drafts = (await client.get(f"{draft.base}/api/v1/courses?status=draft", headers=author)).json()
    assert [(c["id"], c["current_version"], c["title"]) for c in drafts["items"]] == [(draft.id, None, "Draft")]
    assert drafts["total"] == 1


async def test_offered_shared_courses_are_merged_into_the_pages_in_order(
    client: Client, operator_token: str, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    source, adopter, bystander = await make_tenant(), await make_tenant(), await make_tenant()
    _, source_author = await instructor(make_user, login, source)
    original = await build_course(client, source, source_author, title="Anti-bribery")
    _, author = await instructor(make_user, login, adopter)
    older = await build_course(client, adopter, author, title="Older own")
    operator = {"Authorization": f"Bearer {operator_token}"}
    shares = f"{host(source)}/api/v1/operator/catalog/courses"
    # The random end of a UUIDv7 (its start is the clock, the same for courses made within a minute).
    body = {"tenant_id": str(source.id), "course_id": original.id, "slug": f"shared-{original.id[-12:]}"}
    shared_id = (await client.post(shares, json=body, headers=operator)).json()["id"]
    newer = await build_course(client, adopter, author, title="Newer own")
    for tenant in (adopter, bystander):
        _, reader = await learner(make_user, login, tenant)
        listed = (await client.get(f"{host(tenant)}/api/v1/courses", headers=reader)).json()
        assert shared_id not in [c["id"] for c in listed["items"]]  # shared, but not offered yet
    admin = await login(await make_user(adopter, roles=["tenant_admin"]))
    offer = await client.put(f"{host(adopter)}/api/v1/catalog/shared/{shared_id}/offer", headers=admin)
    assert offer.status_code == 200

    _, reader = await learner(make_user, login, adopter)
    newest_first = [newer.id, shared_id, older.id]
    for offset in range(4):
        page = (await client.get(f"{host(adopter)}/api/v1/courses?limit=1&offset={offset}", headers=reader)).json()
        assert page["total"] == 3
        assert [c["id"] for c in page["items"]] == newest_first[offset : offset + 1]
    whole = (await client.get(f"{host(adopter)}/api/v1/courses", headers=reader)).json()
    assert [(c["id"], c["shared"]) for c in whole["items"]] == [(newer.id, False), (shared_id, True), (older.id, False)]
    _, other_reader = await learner(make_user, login, bystander)
    assert (await client.get(f"{host(bystander)}/api/v1/courses", headers=other_reader)).json()["total"] == 0

    await client.post(f"{shares}/{shared_id}/archive", headers=operator)
    after = (await client.get(f"{host(adopter)}/api/v1/courses", headers=reader)).json()
    assert [c["id"] for c in after["items"]] == [newer.id, older.id]
    assert after["total"] == 2


async def test_list_items_are_catalogue_cards_and_the_course_itself_has_the_rest(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, reader = await learner(make_user, login, tenant)
    course = await build_course(
        client, tenant, author, title="Data protection", summary="GDPR at work", description="Why and how we..."
    )
    detail = (await client.get(f"{course.base}/api/v1/courses/{course.id}", headers=reader)).json()

    [item] = (await client.get(f"{course.base}/api/v1/courses", headers=reader)).json()["items"]
    # Every field of the card is the course's own; the long ones are left to the course itself.
    assert item == {key: value for key, value in detail.items() if key in item}
    assert set(detail) - set(item) == {"description", "completion_rules", "modules"}
    assert (item["title"], item["summary"], item["current_version"]) == ("Data protection", "GDPR at work", 1)
    assert detail["description"] == "Why and how we..."
