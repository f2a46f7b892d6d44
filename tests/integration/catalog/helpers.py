"""Build courses through the API, as an instructor would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.identity.models import User
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeUser, host

Client = AsyncTestClient[Litestar]


@dataclass
class BuiltCourse:
    id: str
    base: str
    author: dict[str, str]
    modules: list[str] = field(default_factory=list)
    lessons: dict[str, str] = field(default_factory=dict)  # title -> id


async def build_course(
    client: Client,
    tenant: Tenant,
    author_headers: dict[str, str],
    *,
    lessons: list[dict[str, Any]] | None = None,
    publish: bool = True,
    **course: Any,
) -> BuiltCourse:
    """One module holding `lessons` (default: a 100 s video and a text); published unless told not to."""
    base = host(tenant)
    body = {"title": "Data privacy essentials", "slug": f"privacy-{uuid.uuid4().hex[:8]}", **course}
    response = await client.post(f"{base}/api/v1/courses", json=body, headers=author_headers)
    assert response.status_code == 201, response.text
    built = BuiltCourse(id=response.json()["id"], base=base, author=author_headers)
    module = await client.post(
        f"{base}/api/v1/courses/{built.id}/modules", json={"title": "Basics"}, headers=author_headers
    )
    assert module.status_code == 201, module.text
    built.modules.append(module.json()["id"])
    for lesson in lessons or [
        {"title": "Intro video", "type": "video", "duration_seconds": 100},
        {"title": "Reading", "type": "text", "content": {"body": "Keep data safe."}},
    ]:
        created = await client.post(
            f"{base}/api/v1/courses/{built.id}/modules/{built.modules[0]}/lessons", json=lesson, headers=author_headers
        )
        assert created.status_code == 201, created.text
        built.lessons[lesson["title"]] = created.json()["id"]
    if publish:
        published = await client.post(f"{base}/api/v1/courses/{built.id}/publish", json={}, headers=author_headers)
        assert published.status_code == 200, published.text
    return built


async def instructor(make_user: MakeUser, login: Login, tenant: Tenant) -> tuple[User, dict[str, str]]:
    user = await make_user(tenant, roles=["instructor"])
    return user, await login(user)


async def learner(make_user: MakeUser, login: Login, tenant: Tenant) -> tuple[User, dict[str, str]]:
    user = await make_user(tenant, roles=["learner"])
    return user, await login(user)
