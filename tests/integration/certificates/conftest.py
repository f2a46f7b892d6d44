"""A learner who completed a course through the learning domain's real completion path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from lms.certificates.models import Certificate
from lms.certificates.services import issue_for_enrollment
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.learning.models import Enrollment
from lms.learning.services.progress import record_assessment_result
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor


@dataclass
class Completion:
    tenant: Tenant
    user: User
    headers: dict[str, str]
    course_id: UUID
    course_title: str
    enrollment_id: UUID
    admin: dict[str, str]

    @property
    def base(self) -> str:
        return host(self.tenant)


Complete = Callable[..., Awaitable[Completion]]


@pytest.fixture
def complete(client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login) -> Complete:
    """Enrol a learner in a one-quiz course and pass the quiz: the course completes and the event is sent."""

    async def run(
        tenant: Tenant | None = None, name: str = "Ada Lovelace", policy: dict[str, Any] | None = None, **course: Any
    ) -> Completion:
        tenant = tenant or await make_tenant()
        _, author = await instructor(make_user, login, tenant)
        title = course.pop("title", "Data privacy essentials")
        built = await build_course(
            client, tenant, author, title=title, lessons=[{"title": "Final quiz", "type": "quiz"}]
        )
        admin = await login(await make_user(tenant, roles=["tenant_admin"]))
        if policy is not None:
            # Set before completion: the certificate takes its validity from the policy at issuance.
            response = await client.put(
                f"{host(tenant)}/api/v1/certificates/policies/{built.id}", json=policy, headers=admin
            )
            assert response.status_code == 200, response.text
        user = await make_user(tenant, display_name=name)
        headers = await login(user)
        enrolled = await client.post(
            f"{host(tenant)}/api/v1/enrollments", json={"course_id": built.id}, headers=headers
        )
        assert enrolled.status_code == 201, enrolled.text
        async with tenant_session(db.app_sessions, tenant.id) as session:
            await record_assessment_result(session, user.id, UUID(built.lessons["Final quiz"]), passed=True)
            enrollment = (await session.execute(select(Enrollment).where(Enrollment.user_id == user.id))).scalar_one()
            assert enrollment.status.value == "completed"
        return Completion(tenant, user, headers, UUID(built.id), title, enrollment.id, admin)

    return run


Issue = Callable[[Completion], Awaitable[Certificate]]


@pytest.fixture
def issue(db: Database, settings: Settings) -> Issue:
    """Issue in-process (what the job does first), for tests that need no PDF."""

    async def run(done: Completion) -> Certificate:
        async with tenant_session(db.app_sessions, done.tenant.id) as session:
            cert = await issue_for_enrollment(session, settings, done.tenant.id, done.enrollment_id)
        assert cert is not None
        return cert

    return run
