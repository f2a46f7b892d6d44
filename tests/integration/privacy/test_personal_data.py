"""A tenant admin exports a person's data (a zip with one JSON document, built by a job, fetched through a
short-lived signed link) and erases a person (anonymised, learning records kept, certificates revoked or
kept as the site's policy says); both audited, and neither reachable from another tenant or by a learner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.discussions.models import Post
from lms.identity.models import MfaRecoveryCode, RefreshToken, SsoIdentity, User
from lms.learning.models import Enrollment, LessonProgress
from lms.lib import clock
from lms.lib.mail import EmailMessage
from lms.lib.storage import storage_for
from lms.privacy.models import PersonalDataExport
from lms.privacy.services.exports import SECTIONS, export_key, purge_expired_exports
from lms.privacy.services.links import DOWNLOAD_SECONDS, signed_export_path
from lms.tenancy.models import AdminAuditEntry, Tenant
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.integration.identity.helpers import secure_host
from tests.integration.privacy.helpers import exported_document, person_with_history, run_export_job
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def audit_actions(db: Database, tenant: Tenant, user_id: UUID) -> list[str]:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = await session.scalars(
            select(AdminAuditEntry.action)
            .where(AdminAuditEntry.target_id == str(user_id))
            .order_by(AdminAuditEntry.created_at)
        )
        return list(rows)


async def test_export_holds_every_section_of_that_person_only_and_is_audited(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    history = await person_with_history(db, settings, make_user, tenant)
    person = history.person
    headers = await login(admin)
    base = f"{host(tenant)}/api/v1/admin/users/{person.id}/personal-data-exports"

    queued = await client.post(base, headers=headers)
    assert queued.status_code == 202, queued.text
    export = queued.json()
    assert export["status"] == "queued"
    assert export["download_url"] is None
    # Asking again while it is being prepared answers with the same export.
    again = await client.post(base, headers=headers)
    assert again.json()["id"] == export["id"]

    assert await run_export_job(db, settings, tenant, UUID(export["id"])) == "ready"
    assert await run_export_job(db, settings, tenant, UUID(export["id"])) == "nothing to do"
    shown = await client.get(f"{base}/{export['id']}", headers=headers)
    assert shown.status_code == 200
    ready = shown.json()
    assert ready["status"] == "ready"
    assert ready["download_url"].startswith(f"/admin/privacy/exports/{export['id']}/download?expires=")
    listing = await client.get(base, headers=headers)
    assert [e["id"] for e in listing.json()["items"]] == [export["id"]]

    token = await bearer(login, admin)
    download = await client.get(f"{secure_host(tenant)}{ready['download_url']}", headers=browser_headers(token))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    document = exported_document(download.content)

    assert set(document) == {"format", "exported_at", "user_id", *SECTIONS}
    assert document["profile"]["email"] == "grace@corp.example"
    assert document["profile"]["external_id"] == "HR-1906"
    assert document["profile"]["attributes"] == {"department": "Navy"}
    assert [link["subject"] for link in document["profile"]["single_sign_on"]] == ["grace-sub"]
    assert "password_hash" not in document["profile"]
    assert "totp_secret_encrypted" not in document["profile"]
    assert [e["completion_pct"] for e in document["enrolments"]] == [50]
    assert [p["score"] for p in document["progress"]] == [0.8]
    assert [a["score"] for a in document["quiz_attempts"]] == [7]
    assert "items" not in document["quiz_attempts"][0]
    assert [v["text"] for v in document["submissions"][0]["versions"]] == ["Grace's report"]
    assert [c["id"] for c in document["certificates"]] == [str(history.certificate_id)]
    assert "pdf_key" not in document["certificates"][0]
    assert [p["id"] for p in document["discussion_posts"]] == [str(history.post_id)]
    assert "user.updated" in [a["action"] for a in document["audit_entries"]]
    for section in ("enrolments", "progress", "quiz_attempts", "submissions", "certificates"):
        assert {row["user_id"] for row in document[section]} == {str(person.id)}, section
    text = download.content.decode("latin-1") + str(document)
    assert str(history.bystander.id) not in text
    assert "alan@corp.example" not in text

    assert await audit_actions(db, tenant, person.id) == [
        "user.updated",
        "user.personal_data_export_requested",
        "user.personal_data_downloaded",
    ]


async def test_the_download_link_refuses_tampering_expiry_and_learners(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    learner = await make_user(tenant)
    person = await make_user(tenant, display_name="Katherine Johnson")
    headers = await login(admin)
    base = f"{host(tenant)}/api/v1/admin/users/{person.id}/personal-data-exports"
    export = (await client.post(base, headers=headers)).json()
    await run_export_job(db, settings, tenant, UUID(export["id"]))
    url = (await client.get(f"{base}/{export['id']}", headers=headers)).json()["download_url"]
    query = parse_qs(urlsplit(url).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    path = f"/admin/privacy/exports/{export['id']}/download"
    site = secure_host(tenant)
    admin_browser = browser_headers(await bearer(login, admin))

    assert (await client.get(f"{site}{url}", headers=admin_browser)).status_code == 200
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = [
        f"{path}?expires={expires}&signature={flipped}",
        f"{path}?expires={expires + 3600}&signature={signature}",
        f"/admin/privacy/exports/{person.id}/download?expires={expires}&signature={signature}",
    ]
    for link in tampered:
        assert (await client.get(f"{site}{link}", headers=admin_browser)).status_code == 404, link
    past, _ = signed_export_path(settings.secret_key, tenant.id, UUID(export["id"]), now=1_000_000.0)
    assert (await client.get(f"{site}{past}", headers=admin_browser)).status_code == 404
    assert DOWNLOAD_SECONDS <= 3600
    # A valid link is not enough without an administrator's session.
    learner_browser = browser_headers(await bearer(login, learner))
    assert (await client.get(f"{site}{url}", headers=learner_browser)).status_code == 403


async def test_erasure_anonymises_keeps_learning_revokes_certificates_and_is_idempotent(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    history = await person_with_history(db, settings, make_user, tenant)
    person = history.person
    headers = await login(admin)
    exports = f"{host(tenant)}/api/v1/admin/users/{person.id}/personal-data-exports"
    earlier = (await client.post(exports, headers=headers)).json()
    await run_export_job(db, settings, tenant, UUID(earlier["id"]))
    url = f"{host(tenant)}/api/v1/admin/users/{person.id}/erasure"

    impact = await client.get(url, headers=headers)
    assert impact.status_code == 200
    assert impact.json() | {"user_id": None} == {
        "user_id": None,
        "email": "grace@corp.example",
        "display_name": "Grace Hopper",
        "enrolments": 1,
        "active_certificates": 1,
        "certificates": "revoke",
        "erased": False,
        "erased_at": None,
    }
    wrong = await client.post(url, json={"confirm_email": "someone@corp.example"}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "confirm_email"
    own = await client.post(
        f"{host(tenant)}/api/v1/admin/users/{admin.id}/erasure", json={"confirm_email": admin.email}, headers=headers
    )
    assert own.status_code == 422

    erased = await client.post(url, json={"confirm_email": " GRACE@corp.example "}, headers=headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["certificates"] == "revoke"
    assert erased.json()["certificates_revoked"] == 1

    async with tenant_session(db.app_sessions, tenant.id) as session:
        user = await session.get(User, person.id)
        assert user is not None
        assert user.display_name == "Former member"
        assert user.email.endswith("@erased.invalid")
        assert "grace" not in user.email
        assert (user.external_id, user.attributes, user.groups) == (None, {}, [])
        assert (user.mfa_enabled, user.password_hash, user.status.value) == (False, None, "deactivated")
        for table in (SsoIdentity, MfaRecoveryCode, RefreshToken, EmailMessage):
            owner = table.recipient.ilike("grace@corp.example") if table is EmailMessage else table.user_id == person.id
            assert await session.scalar(select(func.count()).where(owner)) == 0, table
        # Learning records and discussion posts stay for the statistics, under the same account id.
        assert await session.scalar(select(func.count()).where(Enrollment.user_id == person.id)) == 1
        assert await session.scalar(select(LessonProgress.score).where(LessonProgress.user_id == person.id)) == 0.8
        post = await session.get(Post, history.post_id)
        assert post is not None
        assert post.author_id == person.id
        cert = await session.get(Certificate, history.certificate_id)
        assert cert is not None
        assert cert.state.value == "revoked"
        assert cert.learner_name == "Former member"
        assert cert.pdf_key is None
        entries = list(
            await session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.target_id == str(person.id)))
        )
    storage = storage_for(settings)
    assert not storage.exists(history.pdf_key)
    assert storage.list_keys(f"t/{tenant.id}/privacy/{person.id}/") == []
    assert {e.target_label for e in entries} == {"Former member"}
    assert all("Grace Hopper" not in str(e.before) + str(e.after) for e in entries)
    assert [e.action for e in entries if e.action == "user.erased"] == ["user.erased"]

    again = await client.post(url, json={"confirm_email": "anything"}, headers=headers)
    assert again.status_code == 200
    assert again.json() == erased.json()
    assert (await audit_actions(db, tenant, person.id)).count("user.erased") == 1
    assert (await client.get(url, headers=headers)).json()["erased"] is True
    refused = await client.post(exports, headers=headers)
    assert refused.status_code == 409
    assert (await client.get(exports, headers=headers)).json()["items"] == []


async def test_an_erased_person_cannot_be_changed_reactivated_or_provisioned_again(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    history = await person_with_history(db, settings, make_user, tenant)
    person = history.person
    headers = await login(admin)
    erased = await client.post(
        f"{host(tenant)}/api/v1/admin/users/{person.id}/erasure", json={"confirm_email": person.email}, headers=headers
    )
    assert erased.status_code == 200, erased.text
    users = f"{host(tenant)}/api/v1/users/{person.id}"

    for response in (
        await client.post(f"{users}/reactivate", headers=headers),
        await client.patch(users, json={"display_name": "Grace Hopper", "groups": ["Sales"]}, headers=headers),
        await client.patch(users, json={"roles": ["instructor"]}, headers=headers),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["error"]["field"] == "user_id"
    async with tenant_session(db.app_sessions, tenant.id) as session:
        user = await session.get(User, person.id)
        assert user is not None
        assert (user.display_name, user.groups, user.roles, user.status.value) == (
            "Former member",
            [],
            ["learner"],
            "deactivated",
        )

    # The identity provider no longer sees the person: it can neither read nor restore them by id.
    scim_created = await client.post(f"{host(tenant)}/api/v1/scim-tokens", json={"name": "Okta"}, headers=headers)
    scim = {"Authorization": f"Bearer {scim_created.json()['token']}", "Content-Type": "application/scim+json"}
    scim_user = f"{host(tenant)}/scim/v2/Users/{person.id}"
    assert (await client.get(scim_user, headers=scim)).status_code == 404
    restore = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "grace@corp.example"}
    assert (await client.put(scim_user, json=restore, headers=scim)).status_code == 404
    listed = await client.get(f"{host(tenant)}/scim/v2/Users", headers=scim)
    assert str(person.id) not in {u["id"] for u in listed.json()["Resources"]}

    # The admin page says so instead of offering actions that cannot work.
    page = await client.get(
        f"{secure_host(tenant)}/admin/users/{person.id}", headers=browser_headers(await bearer(login, admin))
    )
    assert page.status_code == 200
    assert "personal data was erased" in page.text
    for action in ("reactivate", "roles", "groups", "privacy/erase"):
        assert f"/admin/users/{person.id}/{action}" not in page.text
    assert "erased.invalid" not in page.text


async def test_keep_policy_leaves_certificates_valid(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    history = await person_with_history(db, settings, make_user, tenant)
    headers = await login(admin)
    policy = f"{host(tenant)}/api/v1/admin/privacy/settings"
    assert (await client.get(policy, headers=headers)).json() == {"erasure_certificates": "revoke"}
    bad = await client.put(policy, json={"erasure_certificates": "shred"}, headers=headers)
    assert bad.status_code == 422
    assert "erasure_certificates" in bad.text
    kept = await client.put(policy, json={"erasure_certificates": "keep"}, headers=headers)
    assert kept.json() == {"erasure_certificates": "keep"}

    url = f"{host(tenant)}/api/v1/admin/users/{history.person.id}/erasure"
    erased = await client.post(url, json={"confirm_email": "grace@corp.example"}, headers=headers)
    assert erased.json()["certificates"] == "keep"
    assert erased.json()["certificates_revoked"] == 0
    async with tenant_session(db.app_sessions, tenant.id) as session:
        cert = await session.get(Certificate, history.certificate_id)
        assert cert is not None
        assert (cert.state.value, cert.learner_name, cert.pdf_key) == ("active", "Grace Hopper", history.pdf_key)
        changes = list(
            await session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.action == "privacy.settings_changed"))
        )
    assert [(c.before, c.after) for c in changes] == [
        ({"erasure_certificates": "revoke"}, {"erasure_certificates": "keep"})
    ]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "personal-data-exports", None),
        ("GET", "personal-data-exports", None),
        ("GET", "erasure", None),
        ("POST", "erasure", {"confirm_email": "grace@corp.example"}),
    ],
)
async def test_another_tenants_admin_gets_404_and_a_learner_403(
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    person = await make_user(tenant, email="grace@corp.example")
    learner = await make_user(tenant)
    outsider = await make_user(other, roles=["tenant_admin"])
    path = f"/api/v1/admin/users/{person.id}/{suffix}"

    foreign = await client.request(method, f"{host(other)}{path}", json=body, headers=await login(outsider))
    assert foreign.status_code == 404, foreign.text
    refused = await client.request(method, f"{host(tenant)}{path}", json=body, headers=await login(learner))
    assert refused.status_code == 403
    page = await client.get(
        f"{secure_host(other)}/admin/users/{person.id}/privacy", headers=browser_headers(await bearer(login, outsider))
    )
    assert page.status_code == 404


async def test_another_tenants_admin_cannot_reach_an_export(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    person = await make_user(tenant)
    outsider = await make_user(other, roles=["tenant_admin"])
    export = (
        await client.post(
            f"{host(tenant)}/api/v1/admin/users/{person.id}/personal-data-exports", headers=await login(admin)
        )
    ).json()
    await run_export_job(db, settings, tenant, UUID(export["id"]))
    shown = await client.get(
        f"{host(other)}/api/v1/admin/users/{person.id}/personal-data-exports/{export['id']}",
        headers=await login(outsider),
    )
    assert shown.status_code == 404
    # Even a link signed for the other tenant's host finds nothing: RLS hides the export.
    link, _ = signed_export_path(settings.secret_key, other.id, UUID(export["id"]))
    answer = await client.get(f"{secure_host(other)}{link}", headers=browser_headers(await bearer(login, outsider)))
    assert answer.status_code == 404


async def test_admin_exports_and_erases_from_the_pages(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    history = await person_with_history(db, settings, make_user, tenant)
    person = history.person
    site = secure_host(tenant)
    browser = browser_headers(await bearer(login, admin))

    user_page = await client.get(f"{site}/admin/users/{person.id}", headers=browser)
    assert "Export personal data" in user_page.text
    assert f"/admin/users/{person.id}/privacy/erase" in user_page.text

    asked = await client.post(
        f"{site}/admin/users/{person.id}/privacy/export",
        data={"csrf_token": CSRF},
        headers=browser,
        follow_redirects=False,
    )
    assert asked.status_code == 303
    preparing = await client.get(f"{site}{asked.headers['location']}", headers=browser)
    # A Celery worker this test process started for an earlier module may have prepared it already (the
    # browser story in tests/e2e/test_privacy_stories.py watches the pending page turn into the link).
    if "Download the zip" not in preparing.text:
        assert "Being prepared" in preparing.text
        assert "hx-trigger" in preparing.text
    async with tenant_session(db.app_sessions, tenant.id) as session:
        export_id = await session.scalar(select(PersonalDataExport.id).where(PersonalDataExport.user_id == person.id))
    assert export_id is not None
    await run_export_job(db, settings, tenant, export_id)
    ready = await client.get(f"{site}/admin/users/{person.id}/privacy/exports", headers=browser)
    assert "Download the zip" in ready.text
    assert "hx-trigger" not in ready.text

    confirm = await client.get(f"{site}/admin/users/{person.id}/privacy/erase", headers=browser)
    assert confirm.status_code == 200
    assert "grace@corp.example" in confirm.text
    assert "What stays" in confirm.text
    german = await client.get(
        f"{site}/admin/users/{person.id}/privacy/erase", headers={**browser, "Accept-Language": "de"}
    )
    assert "Was bleibt" in german.text
    mistyped = await client.post(
        f"{site}/admin/users/{person.id}/privacy/erase",
        data={"csrf_token": CSRF, "confirm_email": "grace@corp"},
        headers=browser,
    )
    assert mistyped.status_code == 422
    assert "exactly to confirm" in mistyped.text
    done = await client.post(
        f"{site}/admin/users/{person.id}/privacy/erase",
        data={"csrf_token": CSRF, "confirm_email": "grace@corp.example"},
        headers=browser,
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = await client.get(f"{site}{done.headers['location']}", headers=browser)
    assert "This person is erased" in after.text
    assert "Grace Hopper" not in after.text

    saved = await client.post(
        f"{site}/admin/privacy",
        data={"csrf_token": CSRF, "erasure_certificates": "keep"},
        headers=browser,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    settings_page = await client.get(f"{site}{saved.headers['location']}", headers=browser)
    assert "The privacy settings are saved." in settings_page.text
    assert 'value="keep" checked' in settings_page.text
    wrong = await client.post(
        f"{site}/admin/privacy", data={"csrf_token": CSRF, "erasure_certificates": "burn"}, headers=browser
    )
    assert wrong.status_code == 422


async def test_the_worker_builds_the_export(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, worker: Any
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    person = await make_user(tenant, display_name="Mary Jackson")
    headers = await login(admin)
    base = f"{host(tenant)}/api/v1/admin/users/{person.id}/personal-data-exports"
    export = (await client.post(base, headers=headers)).json()

    async def ready() -> dict[str, Any] | None:
        shown: dict[str, Any] = (await client.get(f"{base}/{export['id']}", headers=headers)).json()
        return shown if shown["status"] == "ready" else None

    done = await eventually(ready)
    assert done["download_url"] is not None
    assert done["file_size"] > 0


async def test_export_files_past_their_keeping_time_are_purged(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    person = await make_user(tenant)
    storage = storage_for(settings)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        old = await factories.privacy.make_personal_data_export(
            session, tenant.id, user_id=person.id, status="ready", finished_at=clock.now() - timedelta(days=8)
        )
        recent = await factories.privacy.make_personal_data_export(
            session, tenant.id, user_id=person.id, status="ready", finished_at=clock.now() - timedelta(days=1)
        )
        for export in (old, recent):
            export.file_key = export_key(tenant.id, person.id, export.id)
            storage.put_bytes(export.file_key, b"zip", "application/zip")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await purge_expired_exports(session, storage) == 1
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await purge_expired_exports(session, storage) == 0
        left = list(await session.scalars(select(PersonalDataExport.id)))
    assert left == [recent.id]
    assert not storage.exists(export_key(tenant.id, person.id, old.id))
    assert storage.exists(export_key(tenant.id, person.id, recent.id))


async def test_an_erased_person_is_a_former_member_in_the_readers_language(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    person = (await person_with_history(db, settings, make_user, tenant)).person
    headers = await login(admin)
    erased = await client.post(
        f"{host(tenant)}/api/v1/admin/users/{person.id}/erasure",
        json={"confirm_email": "grace@corp.example"},
        headers=headers,
    )
    assert erased.status_code == 200, erased.text

    german = browser_headers(await bearer(login, admin), **{"Accept-Language": "de"})
    site = secure_host(tenant)
    for path in (f"/admin/users/{person.id}", "/admin/users?status=deactivated", "/admin/audit"):
        page = await client.get(f"{site}{path}", headers=german)
        assert page.status_code == 200, path
        assert "Ehemaliges Mitglied" in page.text, path
        assert "Former member" not in page.text, path
    audit = await client.get(f"{site}/admin/audit", headers=german)
    assert "Personenbezogene Daten einer Person gelöscht" in audit.text
    assert "<ins>Widerrufen</ins>" in audit.text  # the certificate policy in words, not "revoke"
    assert 'class="admin-nav"' in audit.text
    english = await client.get(f"{site}/admin/users/{person.id}", headers=browser_headers(await bearer(login, admin)))
    assert "Former member" in english.text
