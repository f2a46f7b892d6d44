"""The stored catalogue card (`courses.list_card`, kept by a trigger) is byte for byte the JSON the API's
encoder writes for the course's `CourseListItem`, for courses of every shape and after every kind of
write: the course list serves those bytes as they are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, CourseVersion
from lms.catalog.schemas import CourseListItem
from lms.catalog.services.base import bump_enrollment_count, course_out
from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.factories import catalog
from tests.integration.catalog.helpers import Client, build_course, instructor, learner

# Strings a JSON writer must escape, or must not: quotes, backslashes, control characters, line
# separators that are valid JSON but not JavaScript, non-ASCII letters and an emoji.
AWKWARD = 'Quote " back \\ slash\nnew line\ttab \x01\x1f\x7f é ß 漢字 \u2028 \U0001f680'

SHAPES: list[dict[str, Any]] = [
    {},
    {"title": AWKWARD, "summary": AWKWARD, "category": None, "tags": []},
    {"category": "compliance", "tags": ["gdpr", "ünïcode", 'q"uote'], "difficulty": "advanced"},
    {"status": "published", "publish_at": datetime(2031, 5, 6, 7, 8, 9, 120000, tzinfo=UTC)},
    {"status": "published", "publish_at": datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)},  # a whole second
    {"created_at": datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC), "self_enrollment": False},
    {"created_at": datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC), "price_cents": 4900, "currency": "EUR"},
    {"cover_name": "f3a9c2.webp", "enrollment_count": 123_456, "language": "de"},
    {"cover_name": ""},  # no cover, as an empty name means in Python
    {"status": "archived", "instructor_ids": [uuid.uuid4(), uuid.uuid4()]},
]


async def card_and_expected(session: AsyncSession, course_id: UUID) -> tuple[bytes, bytes]:
    session.expire_all()
    card = (await session.execute(select(Course.list_card).where(Course.id == course_id))).scalar_one()
    course = (await session.execute(select(Course).where(Course.id == course_id))).scalar_one()
    number = None
    if course.current_version_id is not None:
        version = select(CourseVersion.number).where(CourseVersion.id == course.current_version_id)
        number = (await session.execute(version)).scalar_one()
    out = course_out(course, number, None)
    item = CourseListItem(**{name: getattr(out, name) for name in CourseListItem.__struct_fields__})
    return card, msgspec.json.encode(item)


@pytest.mark.parametrize("shape", SHAPES, ids=[str(n) for n in range(len(SHAPES))])
async def test_a_new_course_card_is_its_list_item_json(db: Database, make_tenant: MakeTenant, shape: dict) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await catalog.make_course(session, tenant.id, **shape)
        card, expected = await card_and_expected(session, course.id)
    assert card == expected
    assert msgspec.json.decode(card, type=CourseListItem).id == course.id


async def test_the_card_follows_every_write_of_a_field_it_shows(db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await catalog.make_course(session, tenant.id, title="Before")
        before, _ = await card_and_expected(session, course.id)

        course.title, course.tags, course.cover_name = "After", ["new"], "c0ffee.png"
        await session.flush()
        card, expected = await card_and_expected(session, course.id)
        assert card == expected != before
        assert b'"title":"After"' in card
        assert b'"cover_url":"/courses/' in card

        await bump_enrollment_count(session, course.id, 2)  # a Core UPDATE, past the ORM
        card, expected = await card_and_expected(session, course.id)
        assert card == expected
        assert b'"enrollment_count":2' in card

        version = await catalog.make_course_version(session, tenant.id, course, number=7)
        await session.execute(update(Course).where(Course.id == course.id).values(current_version_id=version.id))
        card, expected = await card_and_expected(session, course.id)
        assert card == expected
        assert b'"current_version":7' in card

        # A write of a field the card does not show leaves it as it was.
        await session.execute(text("update courses set description = 'long' where id = :id"), {"id": course.id})
        assert (await card_and_expected(session, course.id))[0] == card


async def test_a_shared_course_card_says_shared(db: Database) -> None:
    async with db.operator_sessions() as session, session.begin():
        course = await catalog.make_course(session, None, status="published")
        card, expected = await card_and_expected(session, course.id)
    assert card == expected
    assert b'"shared":true' in card


async def test_the_course_list_serves_the_cards_as_pages_in_the_api_shape(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    _, reader = await learner(make_user, login, tenant)
    courses = [await build_course(client, tenant, author, title=f"{AWKWARD} {n}") for n in range(3)]

    answer = await client.get(f"{host(tenant)}/api/v1/courses?limit=2&offset=1", headers=reader)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    page = answer.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [c["title"] for c in page["items"]] == [f"{AWKWARD} 1", f"{AWKWARD} 0"]
    for item in page["items"]:
        detail = (await client.get(f"{host(tenant)}/api/v1/courses/{item['id']}", headers=reader)).json()
        assert item == {key: value for key, value in detail.items() if key in item}
    assert {c.id for c in courses} >= {c["id"] for c in page["items"]}

    empty = await client.get(f"{host(tenant)}/api/v1/courses?offset=10", headers=reader)
    assert empty.json() == {"items": [], "total": 3, "limit": 50, "offset": 10}


async def test_a_scheduled_course_card_is_listed_only_once_released(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, reader = await learner(make_user, login, tenant)
    soon = datetime.now(UTC) + timedelta(days=1)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await catalog.make_course(session, tenant.id, title="Later", status="published", publish_at=soon)
        await catalog.make_course(session, tenant.id, title="Now", status="published")
    listed = (await client.get(f"{host(tenant)}/api/v1/courses", headers=reader)).json()
    assert [c["title"] for c in listed["items"]] == ["Now"]
    assert listed["total"] == 1
