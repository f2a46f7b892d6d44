"""Domains tell people about their events through the notification service: enrolment, and seat or
billing notices for the tenant's admins (in their language). Completion and certificates:
tests/integration/certificates/test_notifications.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select

from lms.billing.services.accounts import enforce_grace_period
from lms.billing.services.seats import snapshot_seats
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.notifications.models import Notification
from lms.notifications.services.emails import body_of, title_of
from lms.web import i18n
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor


async def notifications_of(db: Database, tenant_id: UUID, user_id: UUID) -> list[Notification]:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        query = select(Notification).where(Notification.user_id == user_id).order_by(Notification.created_at)
        return list(await session.scalars(query))


def kinds(items: list[Notification]) -> list[str]:
    return [item.kind for item in items]


async def test_assigning_notifies_each_new_learner_once_and_a_rejected_one_not_at_all(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, self_enrollment=False, title="Ladder safety")
    users = [await make_user(tenant) for _ in range(2)]
    deactivated = await make_user(tenant, status="deactivated")
    due = (clock.now() + timedelta(days=3)).isoformat()
    body = {"course_id": course.id, "user_ids": [str(u.id) for u in [*users, deactivated]], "due_at": due}
    response = await client.post(f"{host(tenant)}/api/v1/enrollments/bulk", json=body, headers=author)
    assert [r["status"] for r in response.json()] == ["enrolled", "enrolled", "rejected"]
    repeated = await client.post(f"{host(tenant)}/api/v1/enrollments/bulk", json=body, headers=author)
    assert [r["status"] for r in repeated.json()][:2] == ["already_enrolled", "already_enrolled"]

    for user in users:
        items = await notifications_of(db, tenant.id, user.id)
        assert kinds(items) == ["enrolment"]
        assert items[0].params["course"] == "Ladder safety"
        assert items[0].params["due"] == due[:10]
    assert await notifications_of(db, tenant.id, deactivated.id) == []


async def _admins_and_learner(db: Database, make_user: MakeUser, tenant: Any) -> tuple[Any, Any, Any]:
    german = await make_user(tenant, roles=["tenant_admin"], locale="de")
    english = await make_user(tenant, roles=["tenant_admin"])
    learner = await make_user(tenant)
    return german, english, learner


async def test_a_suspended_subscription_tells_every_admin_in_their_language_and_no_learner(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    german, english, learner = await _admins_and_learner(db, make_user, tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.billing.make_billing_account(
            session, tenant.id, status="past_due", past_due_since=clock.now() - timedelta(days=60)
        )
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await enforce_grace_period(session, settings, tenant.id)

    [notice] = await notifications_of(db, tenant.id, english.id)
    assert notice.kind == "billing"
    assert notice.link == "/admin/billing"
    with i18n.using_locale("en", "UTC"):
        assert title_of(notice.kind, notice.params) == (
            "Your subscription is suspended for learners until the payment is made"
        )
    [german_notice] = await notifications_of(db, tenant.id, german.id)
    with i18n.using_locale("de", "UTC"):
        title = title_of(german_notice.kind, german_notice.params)
        body = body_of(german_notice.kind, german_notice.params)
    assert "Abonnement" in title
    assert "Lernende" in body
    assert await notifications_of(db, tenant.id, learner.id) == []
    # A second run finds the tenant suspended already and says nothing again.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert not await enforce_grace_period(session, settings, tenant.id)
    assert len(await notifications_of(db, tenant.id, english.id)) == 1


async def test_admins_hear_once_when_the_seats_are_nearly_all_in_use(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    _, english, learner = await _admins_and_learner(db, make_user, tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.billing.make_billing_account(session, tenant.id, seats=2)
        await factories.learning.make_enrollment(session, tenant.id, user_id=learner.id)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await snapshot_seats(session, tenant.id) == 1
    assert await notifications_of(db, tenant.id, english.id) == []  # half the seats: nothing to say

    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.learning.make_enrollment(session, tenant.id)
    for _ in range(2):
        async with tenant_session(db.app_sessions, tenant.id) as session:
            assert await snapshot_seats(session, tenant.id) == 2
    [notice] = await notifications_of(db, tenant.id, english.id)
    with i18n.using_locale("en", "UTC"):
        assert body_of(notice.kind, notice.params).startswith("2 of 2 seats are in use.")
    assert await notifications_of(db, tenant.id, learner.id) == []
