"""The learner hears of each step through the notification service: enrolled, course completed,
certificate issued; each once, however often the completion job is delivered."""

from __future__ import annotations

from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.notifications.models import Notification
from tests.conftest import MakeTenant
from tests.integration.certificates.conftest import Complete, Issue
from tests.integration.notifications.test_domain_events import kinds, notifications_of


async def test_enrolment_completion_and_certificate_each_notify_the_learner_once(
    db: Database, complete: Complete, issue: Issue, make_tenant: MakeTenant
) -> None:
    done = await complete(title="Fire safety")
    cert = await issue(done)
    again = await issue(done)  # a redelivered completion job finds the certificate issued
    assert again.id == cert.id

    items = await notifications_of(db, done.tenant.id, done.user.id)
    assert kinds(items) == ["enrolment", "course_completed", "certificate_issued"]
    assert all(item.params["course"] == "Fire safety" for item in items)
    assert [item.link for item in items] == [
        f"/courses/{done.course_id}",
        f"/courses/{done.course_id}",
        "/certificates",
    ]
    # Enrolment and completion wait for the digest by default; a certificate is e-mailed at once.
    assert [item.email_state for item in items] == ["digest", "digest", "sent"]

    # Nobody else heard of it, and another tenant cannot see the rows.
    other = await make_tenant()
    async with tenant_session(db.app_sessions, other.id) as session:
        assert (await session.scalars(select(Notification).where(Notification.user_id == done.user.id))).all() == []
