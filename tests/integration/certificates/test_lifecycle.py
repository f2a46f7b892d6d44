"""Tenant admins revoke and re-issue; compliance certificates remind learners before they expire."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lms.certificates.services.lifecycle import send_expiry_reminders
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.mail import EmailMessage
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client
from tests.integration.certificates.conftest import Complete, Issue

JSON = {"Accept": "application/json"}


async def test_a_revoked_certificate_shows_the_reason_publicly(
    client: Client, complete: Complete, issue: Issue
) -> None:
    done = await complete()
    cert = await issue(done)

    revoked = await client.post(
        f"{done.base}/api/v1/certificates/{cert.id}/revoke",
        json={"reason": "Assessment found to be plagiarised"},
        headers=done.admin,
    )

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    body = (await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)).json()
    assert body["status"] == "revoked"
    assert body["revocation_reason"] == "Assessment found to be plagiarised"
    page = (await client.get(f"{done.base}/verify/{cert.id}")).text
    assert 'data-status="revoked"' in page
    assert "Assessment found to be plagiarised" in page
    again = await client.post(
        f"{done.base}/api/v1/certificates/{cert.id}/revoke", json={"reason": "twice"}, headers=done.admin
    )
    assert again.status_code == 409


async def test_revocation_needs_an_admin_and_a_reason(client: Client, complete: Complete, issue: Issue) -> None:
    done = await complete()
    cert = await issue(done)

    by_learner = await client.post(
        f"{done.base}/api/v1/certificates/{cert.id}/revoke", json={"reason": "I changed my mind"}, headers=done.headers
    )
    without_reason = await client.post(
        f"{done.base}/api/v1/certificates/{cert.id}/revoke", json={"reason": ""}, headers=done.admin
    )

    assert by_learner.status_code == 403
    assert without_reason.status_code == 422
    assert without_reason.json()["error"]["field"] == "reason"
    assert (await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)).json()["status"] == "valid"


async def test_reissue_after_a_name_correction_supersedes_the_old_certificate(
    client: Client, complete: Complete, issue: Issue
) -> None:
    done = await complete(name="Ada Lovelase")
    old = await issue(done)
    corrected = await client.patch(
        f"{done.base}/api/v1/users/{done.user.id}", json={"display_name": "Ada Lovelace"}, headers=done.admin
    )
    assert corrected.status_code == 200, corrected.text

    reissued = await client.post(f"{done.base}/api/v1/certificates/{old.id}/reissue", headers=done.admin)

    assert reissued.status_code == 200, reissued.text
    new = reissued.json()
    assert new["learner_name"] == "Ada Lovelace"
    assert new["id"] != str(old.id)
    old_view = (await client.get(f"{done.base}/verify/{old.id}", headers=JSON)).json()
    assert old_view["status"] == "superseded"
    assert old_view["learner_name"] == "Ada Lovelase"
    assert old_view["superseded_by_url"] == new["verify_url"]
    assert f'href="{new["verify_url"]}"' in (await client.get(f"{done.base}/verify/{old.id}")).text
    new_view = (await client.get(new["verify_url"], headers=JSON)).json()
    assert new_view["status"] == "valid"
    assert new_view["learner_name"] == "Ada Lovelace"
    listed = (await client.get(f"{done.base}/api/v1/me/certificates", headers=done.headers)).json()
    assert [item["status"] for item in listed["items"]] == ["valid", "superseded"]


async def test_admins_of_another_tenant_cannot_reach_certificates(
    client: Client, complete: Complete, issue: Issue, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    done = await complete()
    cert = await issue(done)
    other = await make_tenant()
    other_admin = await login(await make_user(other, roles=["tenant_admin"]))

    on_own_host = await client.post(
        f"{host(other)}/api/v1/certificates/{cert.id}/revoke", json={"reason": "not yours"}, headers=other_admin
    )
    listed = await client.get(f"{host(other)}/api/v1/certificates", headers=other_admin)
    token_on_wrong_host = await client.get(f"{host(other)}/api/v1/certificates/{cert.id}", headers=done.admin)

    assert on_own_host.status_code == 404
    assert listed.json()["total"] == 0
    assert token_on_wrong_host.status_code == 401
    assert (await client.get(f"{done.base}/verify/{cert.id}", headers=JSON)).json()["status"] == "valid"


async def test_learners_see_only_their_own_certificates(
    client: Client, complete: Complete, issue: Issue, make_user: MakeUser, login: Login
) -> None:
    done = await complete()
    cert = await issue(done)
    colleague = await login(await make_user(done.tenant))

    mine = (await client.get(f"{done.base}/api/v1/me/certificates", headers=done.headers)).json()
    theirs = (await client.get(f"{done.base}/api/v1/me/certificates", headers=colleague)).json()
    stolen = await client.get(f"{done.base}/api/v1/me/certificates/{cert.id}/credential", headers=colleague)
    anonymous = await client.get(f"{done.base}/api/v1/me/certificates")

    assert [item["id"] for item in mine["items"]] == [str(cert.id)]
    assert mine["items"][0]["linkedin_url"].startswith("https://www.linkedin.com/profile/add?startTask=")
    assert theirs["total"] == 0
    assert stolen.status_code == 404
    assert anonymous.status_code == 401


async def test_compliance_certificates_remind_once_before_they_expire(
    client: Client, db: Database, settings: Settings, complete: Complete, issue: Issue
) -> None:
    done = await complete(policy={"valid_days": 90, "compliance": True, "remind_days_before": 14})
    cert = await issue(done)
    assert cert.expires_at is not None

    async with tenant_session(db.app_sessions, done.tenant.id) as session:
        too_early = await send_expiry_reminders(session, settings, done.tenant.id, cert.expires_at - timedelta(days=20))
    async with tenant_session(db.app_sessions, done.tenant.id) as session:
        due = await send_expiry_reminders(session, settings, done.tenant.id, cert.expires_at - timedelta(days=10))
    async with tenant_session(db.app_sessions, done.tenant.id) as session:
        repeated = await send_expiry_reminders(session, settings, done.tenant.id, cert.expires_at - timedelta(days=5))
        mails = list(
            (await session.execute(select(EmailMessage).where(EmailMessage.recipient == done.user.email))).scalars()
        )
    # The certificate's own "issued" e-mail came first.
    mails = [mail for mail in mails if "expires" in mail.subject]

    assert (too_early, due, repeated) == (0, 1, 0)
    assert len(mails) == 1
    assert f"Your certificate for {done.course_title} expires on" in mails[0].subject
    assert f"/courses/{done.course_id}" in mails[0].body


async def test_policy_and_settings_validate_their_fields(client: Client, complete: Complete) -> None:
    done = await complete()

    bad_days = await client.put(
        f"{done.base}/api/v1/certificates/policies/{done.course_id}", json={"valid_days": 0}, headers=done.admin
    )
    remote_signature = await client.put(
        f"{done.base}/api/v1/certificates/settings",
        json={"signatory_name": "Grace Hopper", "signature_image": "https://evil.example/sig.png"},
        headers=done.admin,
    )
    bad_paper = await client.put(f"{done.base}/api/v1/certificates/settings", json={"paper": "A3"}, headers=done.admin)
    good = await client.put(
        f"{done.base}/api/v1/certificates/settings",
        json={"signatory_name": "Grace Hopper", "signatory_title": "Head of Learning", "paper": "Letter"},
        headers=done.admin,
    )

    assert bad_days.status_code == 422
    assert bad_days.json()["error"]["field"] == "valid_days"
    assert remote_signature.status_code == 422
    assert remote_signature.json()["error"]["field"] == "signature_image"
    assert bad_paper.json()["error"]["field"] == "paper"
    assert good.status_code == 200
    assert good.json() == {
        "signatory_name": "Grace Hopper",
        "signatory_title": "Head of Learning",
        "has_signature_image": False,
        "paper": "Letter",
    }
