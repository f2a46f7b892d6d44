"""The course list (one statement per page): who sees what, totals on every page and past the end,
version numbers, the author's status filter, and no other tenant's courses."""

from __future__ import annotations

import pytest

from tests.conftest import Login, MakeTenant, MakeUser
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
