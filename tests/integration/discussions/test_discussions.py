"""A learner asks about a moment of a lesson's video, the instructor answers and marks it, and the
learner hears of it in the inbox and in the next morning's digest; reported posts wait hidden in the
moderation queue; only the course's members take part, and never across tenants."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.lib import clock
from lms.lib.mail import EmailMessage
from lms.notifications import services as notifications
from lms.notifications.services.digest import send_digests
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.catalog.helpers import BuiltCourse, build_course
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]
BRAND = {"primary_color": "#6b2c91", "accent_color": "#f2b705"}


async def course_with_learner(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, **learner: object
) -> tuple[Tenant, BuiltCourse, User, User]:
    tenant = await make_tenant(name="Umbrella Academy", branding=BRAND)
    teacher = await make_user(tenant, roles=["instructor"], display_name="Ines Instructor")
    course = await build_course(client, tenant, await login(teacher), title="Phishing awareness")
    student = await make_user(tenant, display_name="Lena Learner", **learner)
    enrolled = await client.post(
        f"{secure_host(tenant)}/courses/{course.id}/enrol",
        data={"csrf_token": CSRF},
        headers=browser_headers(await bearer(login, student)),
        follow_redirects=False,
    )
    assert enrolled.status_code == 303
    return tenant, course, teacher, student


async def test_a_question_at_02_13_is_answered_marked_and_notified_in_the_learners_language(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, teacher, student = await course_with_learner(
        client, make_tenant, make_user, login, locale="de", time_zone="Europe/Berlin"
    )
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await notifications.set_preferences(session, tenant.id, student.id, [("question_answered", "email", "digest")])
    site = secure_host(tenant)
    learner_page = browser_headers(await bearer(login, student))
    teacher_page = browser_headers(await bearer(login, teacher))
    video = course.lessons["Intro video"]

    form = await client.get(f"{site}/courses/{course.id}/discussions?lesson_id={video}&at=02:13", headers=learner_page)
    assert form.status_code == 200
    assert 'name="video_time" type="text" value="02:13"' in form.text
    asked = await client.post(
        f"{site}/courses/{course.id}/discussions",
        data={
            "csrf_token": CSRF,
            "title": "Was heißt das Symbol bei 02:13?",
            "body": "Im Video erscheint ein **Schloss**. <script>alert(1)</script>",
            "lesson_id": video,
            "video_time": "02:13",
        },
        headers=learner_page,
        follow_redirects=False,
    )
    assert asked.status_code == 303
    thread_url = f"{site}{asked.headers['location']}"
    thread_id = thread_url.rsplit("/", 1)[1]

    api = await login(teacher)
    detail = (await client.get(f"{site}/api/v1/discussions/threads/{thread_id}", headers=api)).json()
    assert detail["thread"]["video_seconds"] == 133
    assert "<strong>Schloss</strong>" in detail["question"]["body_html"]
    assert "<script>" not in detail["question"]["body_html"]
    reply = await client.post(
        f"{site}/api/v1/discussions/threads/{thread_id}/posts",
        json={"body": "Das Schloss zeigt eine sichere Verbindung."},
        headers=api,
    )
    assert reply.status_code == 201
    assert reply.json()["staff"] is True
    reply_id = reply.json()["id"]
    marked = await client.post(
        f"{site}/courses/{course.id}/discussions/{thread_id}/posts/{reply_id}/answer",
        data={"csrf_token": CSRF},
        headers=teacher_page,
        follow_redirects=False,
    )
    assert marked.status_code == 303

    page = await client.get(thread_url, headers=learner_page)
    assert "Lektionsvideo bei 02:13" in page.text
    assert "Beantwortet" in page.text
    assert re.search(r'id="post-' + reply_id + r'" class="post post-answer"', page.text)
    listing = (await client.get(f"{site}/api/v1/me/notifications", headers=await login(student))).json()
    titles = [item["title"] for item in listing["items"]]
    assert "Ihre Frage wurde beantwortet: Was heißt das Symbol bei 02:13?" in titles
    assert "Ines Instructor hat in Was heißt das Symbol bei 02:13? geantwortet" in titles

    async with tenant_session(db.app_sessions, tenant.id) as session:
        instant = list(await session.scalars(select(EmailMessage).where(EmailMessage.recipient == student.email)))
    assert instant == []  # replies and answers wait for the digest (the learner chose it for answers)
    # 07:03 the next morning in Berlin (06:03 UTC in winter, 05:03 in summer)
    tomorrow = (clock.now() + timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin"))
    next_morning = tomorrow.replace(hour=7, minute=3).astimezone(UTC)
    with clock.clock_set_to(lambda: next_morning):
        async with tenant_session(db.app_sessions, tenant.id) as session:
            assert await send_digests(session, settings, tenant.id) == 1
    async with tenant_session(db.app_sessions, tenant.id) as session:
        digest = (
            await session.scalars(
                select(EmailMessage)
                .where(EmailMessage.recipient == student.email)
                .order_by(EmailMessage.created_at.desc())
            )
        ).first()
    assert digest is not None
    # The reply, the answer, and the enrolment of the day before.
    assert digest.subject == "Umbrella Academy: Ihre tägliche Zusammenfassung (3)"
    assert "Ihre Frage wurde beantwortet" in digest.body
    assert "Phishing awareness" in digest.body
    assert digest.html_body is not None
    assert "#6b2c91" in digest.html_body
    assert digest.sender_name == "Umbrella Academy"


async def test_a_reported_post_is_hidden_from_learners_and_waits_in_the_moderation_queue(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, teacher, author = await course_with_learner(client, make_tenant, make_user, login)
    site = secure_host(tenant)
    reader = await make_user(tenant)
    await client.post(
        f"{site}/courses/{course.id}/enrol",
        data={"csrf_token": CSRF},
        headers=browser_headers(await bearer(login, reader)),
    )
    thread = await client.post(
        f"{site}/api/v1/courses/{course.id}/discussions",
        json={"title": "Free gift cards", "body": "Click here for free gift cards!!!", "kind": "discussion"},
        headers=await login(author),
    )
    assert thread.status_code == 201
    thread_id = thread.json()["id"]
    detail = (await client.get(f"{site}/api/v1/discussions/threads/{thread_id}", headers=await login(reader))).json()
    post_id = detail["question"]["id"]

    empty = await client.post(
        f"{site}/api/v1/discussions/posts/{post_id}/report", json={"reason": " "}, headers=await login(reader)
    )
    assert (empty.status_code, empty.json()["error"]["field"]) == (422, "reason")
    reported = await client.post(
        f"{site}/api/v1/discussions/posts/{post_id}/report", json={"reason": "spam"}, headers=await login(reader)
    )
    assert reported.json()["hidden"] is True
    twice = await client.post(
        f"{site}/api/v1/discussions/posts/{post_id}/report", json={"reason": "spam"}, headers=await login(reader)
    )
    assert twice.status_code == 404  # hidden from the reporter now, like from every learner

    other_learner = browser_headers(await bearer(login, reader))
    seen = await client.get(f"{site}/courses/{course.id}/discussions/{thread_id}", headers=other_learner)
    assert "free gift cards!!!" not in seen.text
    assert "hidden while the course" in seen.text
    search = (
        await client.get(
            f"{site}/api/v1/courses/{course.id}/discussions", params={"q": "gift"}, headers=await login(reader)
        )
    ).json()
    assert search["total"] == 1  # the title still matches; the hidden text is not shown
    refused = await client.get(f"{site}/courses/{course.id}/discussions/moderation", headers=other_learner)
    assert refused.status_code == 403
    queue = await client.get(
        f"{site}/courses/{course.id}/discussions/moderation", headers=browser_headers(await bearer(login, teacher))
    )
    assert queue.status_code == 200
    assert "free gift cards!!!" in queue.text
    assert "spam" in queue.text
    inbox = (await client.get(f"{site}/api/v1/me/notifications", headers=await login(teacher))).json()
    assert any(item["kind"] == "post_reported" for item in inbox["items"])

    deleted = await client.post(
        f"{site}/api/v1/discussions/posts/{post_id}/moderate",
        json={"action": "delete", "reason": "Spam"},
        headers=await login(teacher),
    )
    assert deleted.status_code == 200
    api_queue = (
        await client.get(f"{site}/api/v1/courses/{course.id}/discussions/moderation", headers=await login(teacher))
    ).json()
    assert api_queue["total"] == 0
    gone = await client.get(f"{site}/api/v1/discussions/threads/{thread_id}", headers=await login(reader))
    assert gone.status_code == 404


async def test_only_members_take_part_and_instructors_can_turn_discussions_off(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, teacher, student = await course_with_learner(client, make_tenant, make_user, login)
    site = secure_host(tenant)
    url = f"{site}/api/v1/courses/{course.id}/discussions"
    outsider = await make_user(tenant)
    assert (await client.get(url, headers=await login(outsider))).status_code == 403
    assert (await client.get(url)).status_code == 401
    stranger_tenant = await make_tenant()
    stranger = await make_user(stranger_tenant, roles=["tenant_admin"])
    foreign = await client.get(
        f"{secure_host(stranger_tenant)}/api/v1/courses/{course.id}/discussions", headers=await login(stranger)
    )
    assert foreign.status_code == 404

    bad = await client.post(url, json={"title": "", "body": "x"}, headers=await login(student))
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "title")
    no_lesson_time = await client.post(
        url, json={"title": "t", "body": "b", "video_seconds": 5}, headers=await login(student)
    )
    assert (no_lesson_time.status_code, no_lesson_time.json()["error"]["field"]) == (422, "video_seconds")
    refused = await client.put(f"{url}/settings", json={"enabled": False}, headers=await login(student))
    assert refused.status_code == 403
    off = await client.put(f"{url}/settings", json={"enabled": False}, headers=await login(teacher))
    assert off.json() == {"course_id": course.id, "enabled": False}
    assert (await client.get(url, headers=await login(student))).status_code == 403
    assert (await client.get(url, headers=await login(teacher))).status_code == 200


async def test_posting_is_rate_limited_and_mentions_reach_course_members(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, teacher, student = await course_with_learner(client, make_tenant, make_user, login)
    site = secure_host(tenant)
    handle = teacher.email.split("@")[0]
    thread = await client.post(
        f"{site}/api/v1/courses/{course.id}/discussions",
        json={"title": "Question", "body": f"@{handle} could you help?"},
        headers=await login(student),
    )
    thread_id = thread.json()["id"]
    inbox = (await client.get(f"{site}/api/v1/me/notifications", headers=await login(teacher))).json()
    assert [item["kind"] for item in inbox["items"]] == ["mention"]
    statuses = [
        (
            await client.post(
                f"{site}/api/v1/discussions/threads/{thread_id}/posts",
                json={"body": f"more {i}"},
                headers=await login(student),
            )
        ).status_code
        for i in range(6)
    ]
    assert statuses[:4] == [201] * 4
    assert statuses[4:] == [429, 429]
