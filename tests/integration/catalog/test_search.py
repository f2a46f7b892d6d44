"""Learners search the catalogue: relevance, typos, filters, facets, sorting, pagination."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from lms.catalog.models import Course
from lms.catalog.schemas import SearchQuery
from lms.catalog.services.search import CourseSearch
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.db.reads import TenantReads
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.factories import catalog
from tests.integration.catalog.helpers import Client


async def _catalogue(db: Database, tenant_id: Any, instructor_id: Any) -> None:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        for title, summary, category, difficulty, price, count, tags in [
            ("Data privacy essentials", "Handle personal data", "compliance", "beginner", 0, 5, ["gdpr"]),
            ("Advanced data engineering", "Pipelines at scale", "engineering", "advanced", 4900, 50, ["etl"]),
            ("Negotiation skills", "Win-win deals", "soft-skills", "intermediate", 0, 20, ["sales"]),
            ("Fire safety", "Evacuate calmly", "compliance", "beginner", 0, 1, ["safety", "privacy"]),
        ]:
            await catalog.make_course(
                session,
                tenant_id,
                title=title,
                summary=summary,
                category=category,
                difficulty=difficulty,
                price_cents=price,
                enrollment_count=count,
                tags=tags,
                status="published",
                instructor_ids=[instructor_id] if price else [],
            )
        await catalog.make_course(session, tenant_id, title="Data privacy draft", status="draft")


async def test_search_ranks_filters_and_counts_facets(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    user = await make_user(tenant)
    teacher = await make_user(tenant, roles=["instructor"])
    headers = await login(user)
    await _catalogue(db, tenant.id, teacher.id)
    await _catalogue(db, other.id, teacher.id)
    url = f"{host(tenant)}/api/v1/catalog/search"

    data = (await client.get(url, params={"q": "data"}, headers=headers)).json()
    titles = [i["title"] for i in data["items"]]
    assert set(titles) == {"Data privacy essentials", "Advanced data engineering"}  # drafts and tenant B hidden
    assert data["facets"]["price"] == {"free": 1, "paid": 1}
    assert data["facets"]["category"] == {"compliance": 1, "engineering": 1}

    # title weighs more than a tag
    privacy = [i["title"] for i in (await client.get(url, params={"q": "privacy"}, headers=headers)).json()["items"]]
    assert privacy == ["Data privacy essentials", "Fire safety"]

    prefix = (await client.get(url, params={"q": "negot"}, headers=headers)).json()
    assert [i["title"] for i in prefix["items"]] == ["Negotiation skills"]

    typo = (await client.get(url, params={"q": "negotiaton"}, headers=headers)).json()
    assert [i["title"] for i in typo["items"]] == ["Negotiation skills"]

    free_compliance = (
        await client.get(url, params={"category": "compliance", "price": "free", "sort": "popularity"}, headers=headers)
    ).json()
    assert [i["title"] for i in free_compliance["items"]] == ["Data privacy essentials", "Fire safety"]
    by_teacher = (await client.get(url, params={"instructor": str(teacher.id)}, headers=headers)).json()
    assert [i["title"] for i in by_teacher["items"]] == ["Advanced data engineering"]
    hard = (await client.get(url, params={"difficulty": "advanced"}, headers=headers)).json()
    assert hard["total"] == 1

    page = (await client.get(url, params={"sort": "popularity", "limit": 2, "offset": 1}, headers=headers)).json()
    assert page["total"] == 4
    assert [i["title"] for i in page["items"]] == ["Negotiation skills", "Data privacy essentials"]

    # Newest first, and the page in the same order as the whole ranking.
    newest = (await client.get(url, params={"sort": "newest"}, headers=headers)).json()["items"]
    assert [i["title"] for i in newest] == [
        "Fire safety",
        "Negotiation skills",
        "Advanced data engineering",
        "Data privacy essentials",
    ]
    second = (await client.get(url, params={"sort": "newest", "limit": 2, "offset": 2}, headers=headers)).json()
    assert [i["title"] for i in second["items"]] == [i["title"] for i in newest[2:]]

    bad = await client.get(url, params={"sort": "random"}, headers=headers)
    assert bad.status_code in (400, 422)
    nothing = (await client.get(url, params={"q": "zzzqqq"}, headers=headers)).json()
    assert (nothing["total"], nothing["items"], nothing["facets"]) == (0, [], {})


async def test_misspelt_words_are_corrected_from_the_tenants_own_titles(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    teacher = await make_user(tenant, roles=["instructor"])
    headers = await login(await make_user(tenant))
    await _catalogue(db, tenant.id, teacher.id)
    async with tenant_session(db.app_sessions, other.id) as session:
        await catalog.make_course(session, other.id, title="Cybersecurity basics", status="published")
    url = f"{host(tenant)}/api/v1/catalog/search"

    typo = (await client.get(url, params={"q": "negotiaton skils"}, headers=headers)).json()
    assert [i["title"] for i in typo["items"]] == ["Negotiation skills"]
    assert typo["corrected_query"] == "negotiation skills"
    exact = (await client.get(url, params={"q": "negotiation"}, headers=headers)).json()
    assert exact["corrected_query"] is None
    # Words come only from titles this tenant can see: another tenant's and drafts give nothing.
    foreign = (await client.get(url, params={"q": "cybersecurty"}, headers=headers)).json()
    assert (foreign["total"], foreign["corrected_query"]) == (0, None)
    draft = (await client.get(url, params={"q": "drafft"}, headers=headers)).json()
    assert (draft["total"], draft["corrected_query"]) == (0, None)
    # Filters apply to the corrected search too.
    filtered = (await client.get(url, params={"q": "negotiaton", "price": "paid"}, headers=headers)).json()
    assert filtered["total"] == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("privcy", "Data privacy essentials"), ("enginering", "Advanced data engineering")],
)
async def test_one_wrong_letter_still_finds_the_course(
    client: Client,
    db: Database,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    typed: str,
    expected: str,
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant))
    await _catalogue(db, tenant.id, (await make_user(tenant, roles=["instructor"])).id)
    found = (await client.get(f"{host(tenant)}/api/v1/catalog/search", params={"q": typed}, headers=headers)).json()
    assert expected in [i["title"] for i in found["items"]]


async def test_a_page_past_the_end_keeps_the_total_and_the_facets(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant))
    await _catalogue(db, tenant.id, (await make_user(tenant, roles=["instructor"])).id)
    url = f"{host(tenant)}/api/v1/catalog/search"

    for params in ({"q": "data"}, {"category": "compliance"}, {"sort": "newest"}):
        first = (await client.get(url, params=params, headers=headers)).json()
        past = (await client.get(url, params={**params, "offset": 50, "limit": 5}, headers=headers)).json()

        assert first["total"] > 0
        assert (past["items"], past["total"], past["facets"]) == ([], first["total"], first["facets"])
        assert (past["limit"], past["offset"]) == (5, 50)


async def test_another_tenants_courses_never_appear_whatever_is_asked(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    headers = await login(await make_user(tenant))
    await _catalogue(db, tenant.id, (await make_user(tenant, roles=["instructor"])).id)
    foreign_teacher = await make_user(other, roles=["instructor"])
    await _catalogue(db, other.id, foreign_teacher.id)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        own = {str(course_id) for course_id in await session.scalars(select(Course.id))}
    url = f"{host(tenant)}/api/v1/catalog/search"

    asked: list[dict[str, Any]] = [
        {},
        {"q": "data"},
        {"q": "negotiaton"},  # corrected from this tenant's titles only
        {"category": "engineering", "price": "paid"},
        {"sort": "popularity", "limit": 100},
    ]
    for params in asked:
        found = (await client.get(url, params=params, headers=headers)).json()
        assert found["total"] == len(found["items"]) > 0
        assert {item["id"] for item in found["items"]} <= own
    by_foreign_teacher = (await client.get(url, params={"instructor": str(foreign_teacher.id)}, headers=headers)).json()
    assert (by_foreign_teacher["total"], by_foreign_teacher["items"]) == (0, [])


async def test_a_search_decodes_on_a_new_connection(db: Database, make_tenant: MakeTenant, make_user: MakeUser) -> None:
    # The hits and facets arrive as arrays of anonymous records, which asyncpg decodes with the codecs its
    # connection has loaded so far: every element type must decode on a connection that has read nothing.
    tenant = await make_tenant()
    await _catalogue(db, tenant.id, (await make_user(tenant, roles=["instructor"])).id)
    for query in (SearchQuery(q="data"), SearchQuery(category="compliance"), SearchQuery(q="privacy", sort="newest")):
        await db.app_engine.dispose()  # the next read opens a new connection
        result = await CourseSearch(TenantReads(db.app_engine, tenant.id), tenant.id).search(query)
        assert result.total == len(result.items) > 0
        assert all(isinstance(hit.tags, list) for hit in result.items)
