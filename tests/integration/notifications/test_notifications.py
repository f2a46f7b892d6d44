"""A learner is told about events in the inbox and by e-mail, as they chose, in their language and
with the tenant's branding; they can unsubscribe in one click; nobody reads another's inbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_string, policy
from urllib.parse import parse_qs, urlsplit

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.lib.mail import EmailMessage, mime_message
from lms.notifications import services
from lms.notifications.models import Notification
from lms.notifications.services.digest import send_digests
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]
BRAND = {"primary_color": "#0a5c36", "accent_color": "#f2b705"}


async def mails_to(db: Database, tenant_id: object, email: str) -> list[EmailMessage]:
    async with tenant_session(db.app_sessions, tenant_id) as session:  # type: ignore[arg-type]
        query = select(EmailMessage).where(EmailMessage.recipient == email).order_by(EmailMessage.created_at)
        return list(await session.scalars(query))


async def test_an_instant_notification_is_in_the_inbox_and_a_branded_e_mail_in_the_users_language(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Safety", branding=BRAND)
    learner = await make_user(tenant, locale="de", display_name="Grete")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        written = await services.notify(
            session, tenant.id, learner.id, "graded", {"title": "Brandschutz", "score": 90}, link="/courses"
        )
        again = await services.notify(
            session, tenant.id, learner.id, "graded", {"title": "x"}, dedupe_key="k1", link="/courses"
        )
        repeated = await services.notify(session, tenant.id, learner.id, "graded", {"title": "x"}, dedupe_key="k1")
    assert (written, again, repeated) == (True, True, False)

    [mail, _] = await mails_to(db, tenant.id, learner.email)
    assert mail.subject == "Acme Safety: Bewertet: Brandschutz"
    assert mail.sender_name == "Acme Safety"
    assert "Ihre Arbeit wurde bewertet: 90 %." in mail.body
    assert mail.html_body is not None
    assert "#0a5c36" in mail.html_body
    assert "https://" in mail.body
    assert "/courses" in mail.body
    mime = message_from_string(mime_message(settings, mail).as_string(), policy=policy.default)
    assert mime["From"].startswith("Acme Safety <")
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime["List-Unsubscribe"].startswith("<https://")
    assert "/unsubscribe?" in mime["List-Unsubscribe"]
    assert sorted(part.get_content_type() for part in mime.walk() if not part.is_multipart()) == [
        "text/html",
        "text/plain",
    ]


async def test_a_digest_preference_sends_one_summary_in_the_users_morning(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Globex", branding=BRAND)
    learner = await make_user(tenant, locale="fr", time_zone="Europe/Paris")
    afternoon = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    evening = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    morning = datetime(2026, 12, 1, 6, 5, tzinfo=UTC)  # 07:05 in Paris
    with clock.clock_set_to(lambda: afternoon):
        async with tenant_session(db.app_sessions, tenant.id) as session:
            await services.set_preferences(session, tenant.id, learner.id, [("graded", "email", "digest")])
            await services.notify(session, tenant.id, learner.id, "graded", {"title": "Sécurité", "score": 75})
            await services.notify(session, tenant.id, learner.id, "returned", {"title": "Rapport"})
    assert len(await mails_to(db, tenant.id, learner.email)) == 1  # "returned" stays instant

    with clock.clock_set_to(lambda: evening):
        async with tenant_session(db.app_sessions, tenant.id) as session:
            assert await send_digests(session, settings, tenant.id) == 0
    with clock.clock_set_to(lambda: morning):
        async with tenant_session(db.app_sessions, tenant.id) as session:
            assert await send_digests(session, settings, tenant.id) == 1
        async with tenant_session(db.app_sessions, tenant.id) as session:
            assert await send_digests(session, settings, tenant.id) == 0

    digest = (await mails_to(db, tenant.id, learner.email))[-1]
    assert digest.subject == "Globex : votre résumé du jour (1)"
    assert "Noté : Sécurité" in digest.body
    assert digest.html_body is not None
    assert "#0a5c36" in digest.html_body
    assert "k=all" in digest.headers["List-Unsubscribe"]


async def test_the_one_click_unsubscribe_link_turns_that_kind_of_e_mail_off(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await services.notify(session, tenant.id, learner.id, "graded", {"title": "Quiz"})
    [mail] = await mails_to(db, tenant.id, learner.email)
    url = urlsplit(re.findall(r"<([^>]+)>", mail.headers["List-Unsubscribe"])[0])
    site = secure_host(tenant)

    page = await client.get(f"{site}/unsubscribe?{url.query}")
    assert page.status_code == 200
    assert "Stop e-mails about Grades?" in page.text
    query = parse_qs(url.query)
    forged = await client.post(f"{site}/unsubscribe", params={**query, "k": "mention"})
    assert forged.status_code == 400
    done = await client.post(f"{site}/unsubscribe?{url.query}", content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200

    async with tenant_session(db.app_sessions, tenant.id) as session:
        prefs = {p.kind.name: p.email for p in await services.preferences(session, learner.id, frozenset())}
        await services.notify(session, tenant.id, learner.id, "graded", {"title": "Quiz 2"})
    assert prefs["graded"] == "off"
    assert prefs["returned"] == "instant"
    assert len(await mails_to(db, tenant.id, learner.email)) == 1
    other = await make_tenant()
    elsewhere = await client.post(f"{secure_host(other)}/unsubscribe?{url.query}")
    assert elsewhere.status_code == 400


async def test_transactional_e_mails_name_the_tenant_and_carry_no_unsubscribe(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Initech")
    invited = await make_user(tenant, status="invited")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await services.notify(
            session, tenant.id, invited.id, "invitation", link="https://initech.example/accept-invitation?token=abc"
        )
        inbox, _ = await services.inbox(session, invited.id, 10, 0)
    [mail] = await mails_to(db, tenant.id, invited.email)
    assert mail.subject == "You are invited to Initech"
    assert "token=abc" in mail.body
    assert mail.headers == {}
    assert inbox == []


async def test_the_inbox_page_badge_and_marking_read(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    learner, other = await make_user(tenant), await make_user(tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        for title in ("First quiz", "Second quiz"):
            await services.notify(session, tenant.id, learner.id, "graded", {"title": title}, link="/courses")
        await services.notify(session, tenant.id, other.id, "graded", {"title": "Not yours"})
        theirs = (await session.scalars(select(Notification).where(Notification.user_id == other.id))).one()
    site = secure_host(tenant)
    headers = browser_headers(await bearer(login, learner))

    badge = await client.get(f"{site}/notifications/badge", headers=headers)
    assert '<span class="count"' in badge.text
    assert ">2<" in badge.text
    assert 'hx-trigger="every 30s"' in badge.text
    home = await client.get(f"{site}/notifications", headers=headers)
    assert "Graded: First quiz" in home.text
    assert "Graded: Second quiz" in home.text
    assert "Not yours" not in home.text
    ids = re.findall(r'action="/notifications/([0-9a-f-]{36})/open"', home.text)
    opened = await client.post(
        f"{site}/notifications/{ids[0]}/open", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert (opened.status_code, opened.headers["location"]) == (303, "/courses")
    foreign = await client.post(
        f"{site}/notifications/{theirs.id}/open", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert foreign.status_code == 404

    api = await login(learner)
    assert (await client.get(f"{site}/api/v1/me/notifications/unread-count", headers=api)).json() == {"unread": 1}
    marked = await client.post(f"{site}/api/v1/me/notifications/read-all", headers=api)
    assert marked.json() == {"marked": 1}
    listing = (await client.get(f"{site}/api/v1/me/notifications", headers=api)).json()
    assert (listing["total"], listing["unread"]) == (2, 0)
    assert {item["title"] for item in listing["items"]} == {"Graded: First quiz", "Graded: Second quiz"}


async def test_preferences_are_validated_and_saved_from_the_page(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant)
    site = secure_host(tenant)
    api = await login(learner)
    url = f"{site}/api/v1/me/notification-preferences"

    bad_mode = await client.put(url, json={"preferences": [{"kind": "graded", "channel": "in_app", "mode": "digest"}]})
    assert bad_mode.status_code == 401
    bad_mode = await client.put(
        url, json={"preferences": [{"kind": "graded", "channel": "in_app", "mode": "digest"}]}, headers=api
    )
    assert (bad_mode.status_code, bad_mode.json()["error"]["field"]) == (422, "mode")
    bad_kind = await client.put(
        url, json={"preferences": [{"kind": "x", "channel": "email", "mode": "off"}]}, headers=api
    )
    assert (bad_kind.status_code, bad_kind.json()["error"]["field"]) == (422, "kind")
    required = await client.put(
        url, json={"preferences": [{"kind": "invitation", "channel": "email", "mode": "off"}]}, headers=api
    )
    assert required.status_code == 422
    prefs = {p["kind"]: p for p in (await client.get(url, headers=api)).json()["items"]}
    assert prefs["graded"]["email"] == "instant"
    assert "post_reported" not in prefs  # staff only

    headers = browser_headers(await bearer(login, learner))
    page = await client.get(f"{site}/notifications/preferences", headers=headers)
    assert 'name="email:graded"' in page.text
    saved = await client.post(
        f"{site}/notifications/preferences",
        data={"csrf_token": CSRF, "email:graded": "digest", "in_app:mention": "off"},
        headers=headers,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    prefs = {p["kind"]: p for p in (await client.get(url, headers=api)).json()["items"]}
    assert (prefs["graded"]["email"], prefs["mention"]["in_app"]) == ("digest", "off")


async def test_an_announcement_reaches_everyone_as_they_chose(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    keen, quiet = await make_user(tenant), await make_user(tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await services.set_preferences(
            session, tenant.id, quiet.id, [("announcement", "in_app", "off"), ("announcement", "email", "off")]
        )
    site = secure_host(tenant)
    url = f"{site}/api/v1/notifications/announcements"
    body = {"subject": "Office move", "message": "We move on Monday.", "link": "/courses"}

    assert (await client.post(url, json=body, headers=await login(keen))).status_code == 403
    bad = await client.post(url, json={**body, "link": "https://evil.example"}, headers=await login(admin))
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "link")
    sent = await client.post(url, json=body, headers=await login(admin))
    assert (sent.status_code, sent.json()) == (201, {"recipients": 2})
    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = list(await session.scalars(select(Notification).where(Notification.kind == "announcement")))
    assert {row.user_id for row in rows} == {admin.id, keen.id}
    assert {row.email_state for row in rows} == {"digest"}
    listing = (await client.get(f"{site}/api/v1/me/notifications", headers=await login(keen))).json()
    assert listing["items"][0]["title"] == "Office move"


async def test_e_mails_come_from_the_sender_name_the_admin_chose(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Initech", branding={**BRAND, "email_sender_name": "Initech Academy"})
    learner = await make_user(tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await services.notify(session, tenant.id, learner.id, "graded", {"title": "Safety", "score": 80})
    [mail] = await mails_to(db, tenant.id, learner.email)
    assert mail.sender_name == "Initech Academy"
    assert mail.subject.startswith("Initech: ")  # the subject still names the site
    mime = message_from_string(mime_message(settings, mail).as_string(), policy=policy.default)
    assert mime["From"].startswith('"Initech Academy" <') or mime["From"].startswith("Initech Academy <")
