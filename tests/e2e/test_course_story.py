"""The whole course in a browser, as a learner lives it: the invitation, a misspelt search, enrolment,
a video watched to the end across two browsers (resumed at the second it was left), a text lesson, a
timed quiz, an assignment graded by the instructor, the certificate and its PDF, and the verification
page a stranger opens from the QR code. Real Celery worker (transcoding, progress, certificates) and
FFmpeg; axe-core on every page; at desktop and phone size. Another tenant's learner finds none of it,
and a German learner reads it in German."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from lms.certificates.models import Certificate
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.learning.models import LessonProgress, ProgressStatus
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.integration.assessments.assignments.test_assignments import RUBRIC
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import PASSWORD, link_token, make_member, outbox
from tests.media_fixtures import SiteClient, send_parts, start_upload, wait_for_asset

Client = AsyncTestClient[Litestar]

QUESTIONS: list[dict[str, Any]] = [
    {
        "type": "single_choice",
        "prompt": "A stranger asks for your badge at the door. What do you do?",
        "options": [{"id": "opt-a", "text": "Ask them to sign in at reception"}, {"id": "opt-b", "text": "Lend it"}],
        "correct": "opt-a",
    },
    {"type": "true_false", "prompt": "Fire doors may be propped open.", "correct": False},
]
COURSE_TITLE = "Workplace safety basics"
GRADES = [{"criterion_id": "analysis", "level_id": "strong"}, {"criterion_id": "writing", "level_id": "clear"}]


@dataclass
class Course:
    tenant: Tenant
    id: str
    lessons: dict[str, str]
    author: dict[str, str]
    assignment_id: str


async def upload_video(client: Client, tenant: Tenant, author: dict[str, str], source: bytes) -> str:
    """The lecture through the chunked upload API, transcoded by the worker (FFmpeg)."""
    media = SiteClient(client, host(tenant))
    upload = await start_upload(media, author, "safety-lecture.mp4", len(source))
    await send_parts(media, author, upload, source)
    completed = await media.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=author)
    assert completed.status_code == 202, completed.text
    asset = await wait_for_asset(media, author, upload["asset_id"], {"ready", "failed"}, timeout=240)
    assert asset["status"] == "ready", asset
    return str(upload["asset_id"])


async def build_full_course(
    client: Client, make_user: MakeUser, login: Login, tenant: Tenant, video: bytes | None
) -> Course:
    """A video (when given), a text, a timed quiz and a graded assignment, published for self-enrolment."""
    _, author = await instructor(make_user, login, tenant)
    lessons: list[dict[str, Any]] = []
    if video is not None:
        asset_id = await upload_video(client, tenant, author, video)
        lessons.append(
            {"title": "Why safety matters", "type": "video", "duration_seconds": 14, "media_asset_id": asset_id}
        )
    lessons += [
        {"title": "Emergency exits", "type": "text", "content": {"body": "Know two ways out.\n\nKeep them clear."}},
        {"title": "Safety check", "type": "quiz"},
        {"title": "Hazard report", "type": "assignment"},
    ]
    course = await build_course(
        client, tenant, author, title=COURSE_TITLE, summary="Stay safe at work", lessons=lessons, publish=False
    )
    base = course.base
    bank = await client.post(
        f"{base}/api/v1/question-banks", json={"course_id": course.id, "title": "Safety"}, headers=author
    )
    assert bank.status_code == 201, bank.text
    for payload in QUESTIONS:
        added = await client.post(
            f"{base}/api/v1/question-banks/{bank.json()['id']}/questions", json={"payload": payload}, headers=author
        )
        assert added.status_code == 201, added.text
    quiz = await client.post(
        f"{base}/api/v1/quizzes",
        json={
            "lesson_id": course.lessons["Safety check"],
            "title": "Safety check",
            "pools": [{"bank_id": bank.json()["id"], "count": len(QUESTIONS)}],
            "time_limit_seconds": 600,
        },
        headers=author,
    )
    assert quiz.status_code == 201, quiz.text
    assignment = await client.post(
        f"{base}/api/v1/assignments",
        json={"lesson_id": course.lessons["Hazard report"], "title": "Hazard report", "rubric": RUBRIC},
        headers=author,
    )
    assert assignment.status_code == 201, assignment.text
    published = await client.post(f"{base}/api/v1/courses/{course.id}/publish", json={}, headers=author)
    assert published.status_code == 200, published.text
    return Course(tenant, course.id, course.lessons, author, assignment.json()["id"])


async def invite(client: Client, db: Database, make_user: MakeUser, login: Login, tenant: Tenant, email: str) -> str:
    admin = await login(await make_member(make_user, tenant, roles=["tenant_admin"]))
    created = await client.post(
        f"{host(tenant)}/api/v1/users",
        json={"email": email, "display_name": "Sam", "roles": ["learner"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    [mail] = await outbox(db, tenant, email)
    return link_token(mail)


async def lesson_status(db: Database, tenant: Tenant, email: str, lesson_id: str) -> ProgressStatus | None:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        user = (await session.execute(select(User).where(User.email == email))).scalar_one()
        progress = (
            await session.execute(
                select(LessonProgress).where(
                    LessonProgress.user_id == user.id, LessonProgress.lesson_id == UUID(lesson_id)
                )
            )
        ).scalar_one_or_none()
        return progress.status if progress is not None else None


async def completed(db: Database, tenant: Tenant, email: str, lesson_id: str) -> bool | None:
    return True if await lesson_status(db, tenant, email, lesson_id) is ProgressStatus.COMPLETED else None


async def open_lesson(page: Page, title: str) -> None:
    await page.get_by_role("link", name=title, exact=True).click()
    await expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    await check_page(page)


async def play_until(page: Page, seconds: float | None) -> float:
    """Play (muted, as autoplay allows) until `seconds` and pause, or to the end; the position reached.
    At double speed, as many learners watch: the player counts what was played, not wall-clock time."""
    await page.wait_for_function("window.lmsPlayer && window.lmsPlayer.hls && window.lmsPlayer.hls.levels.length > 0")
    await page.evaluate("const v = document.getElementById('video'); v.muted = true; v.playbackRate = 2; v.play()")
    if seconds is None:
        await page.wait_for_function("document.getElementById('video').ended", timeout=60_000)
    else:
        await page.wait_for_function(f"document.getElementById('video').currentTime > {seconds}", timeout=60_000)
        await page.evaluate("document.getElementById('video').pause()")
    position: float = await page.evaluate("document.getElementById('video').currentTime")
    return position


async def test_invited_learner_completes_a_course_and_a_stranger_verifies_the_certificate(
    web_server: int,
    context: BrowserContext,
    chromium: Browser,
    media_worker: Any,
    media_sources: Any,
    client: Client,
    db: Database,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant, other = await make_tenant(name="Globex Learning"), await make_tenant(name="Hooli Academy")
    course = await build_full_course(
        client, make_user, login, tenant, (media_sources / "lecture-360p.mp4").read_bytes()
    )
    email = f"sam.{tenant.slug}@globex.example"
    token = await invite(client, db, make_user, login, tenant, email)
    base = site(tenant, web_server)
    page = await context.new_page()

    # The invitation: a name and a password, and the learner is in.
    await page.goto(f"{base}/accept-invitation?token={token}")
    await expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    await check_page(page)
    await page.get_by_label("Your name").fill("Sam Learner")
    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_role("button", name="Save password").click()
    await page.wait_for_url(f"{base}/")
    await expect(page.get_by_role("heading", name="No courses yet")).to_be_visible()
    await check_page(page)

    # A misspelt search still finds the course.
    await page.get_by_role("button", name="Browse the catalogue").click()
    await page.get_by_role("searchbox", name="Search courses").fill("workplace saftey")
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.wait_for_url(re.compile(r".*[?&]q=workplace"))
    await expect(page.get_by_text("Showing results for workplace safety.")).to_be_visible()
    await expect(page.get_by_role("link", name=COURSE_TITLE)).to_be_visible()
    await check_page(page)
    await page.get_by_role("link", name=COURSE_TITLE).click()
    await expect(page.get_by_role("heading", name="Outline")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Enrol").click()
    await expect(page.get_by_role("status")).to_contain_text("You are enrolled.")
    await check_page(page)
    course_url = page.url.split("?")[0]

    # The video: half of it here, then the player is left.
    await open_lesson(page, "Why safety matters")
    await page.get_by_role("button", name="Watch the video").click()
    await check_page(page)
    left_at = await play_until(page, 6.5)
    # The learning record has the position (the player reports it with its heartbeat).
    await page.wait_for_function(
        f"window.lmsPlayer.progressSent >= 1 && window.lmsPlayer.lastHeartbeatPosition >= {left_at - 0.1}",
        timeout=20_000,
    )
    await page.goto(course_url)

    # Another browser (a phone, a second laptop) resumes at that second and watches to the end.
    assert context.browser is not None
    other_browser = await chromium.new_context(viewport=page.viewport_size, locale="en-GB")
    second = await other_browser.new_page()
    video_lesson = f"{course_url}/lessons/{course.lessons['Why safety matters']}"
    await second.goto(video_lesson)
    await check_page(second)  # the sign-in page, which brings the learner back to the lesson
    await sign_in(second, email, PASSWORD)
    await second.wait_for_url(video_lesson)
    await check_page(second)
    await second.get_by_role("button", name="Watch the video").click()
    await second.wait_for_function("window.lmsPlayer && window.lmsPlayer.resumedFrom !== null")
    resumed_from = await second.evaluate("window.lmsPlayer.resumedFrom")
    assert abs(resumed_from - left_at) < 0.5, (resumed_from, left_at)
    await second.wait_for_function("document.getElementById('video').readyState >= 2", timeout=20_000)
    assert abs(await second.evaluate("document.getElementById('video').currentTime") - left_at) < 1.0
    await check_page(second)
    await play_until(second, None)
    # Straight on to the next lesson after the end: what was watched last still counts.
    await second.get_by_role("link", name="Back to the lesson").click()
    await expect(second.get_by_role("heading", name="Why safety matters")).to_be_visible()
    await eventually(lambda: completed(db, tenant, email, course.lessons["Why safety matters"]), timeout=30)
    await other_browser.close()

    # The text lesson, read to the end and marked complete.
    await page.goto(course_url)
    await open_lesson(page, "Emergency exits")
    await page.get_by_role("button", name="Mark as complete").click()
    await expect(page.get_by_role("status")).to_contain_text("Lesson marked as complete.")
    await check_page(page)

    # The timed quiz, passed.
    await page.get_by_role("button", name="Next lesson").click()
    await expect(page.get_by_role("heading", name="Safety check", level=1)).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Open the quiz").click()
    await check_page(page)
    await page.get_by_role("button", name="Start the quiz").click()
    await expect(page.get_by_role("timer")).to_contain_text("Time left:")
    await check_page(page)
    await page.get_by_label("Ask them to sign in at reception").check()
    await page.get_by_label("False").check()
    await page.get_by_role("button", name="Submit the quiz").click()
    await expect(page.get_by_role("heading", name="You passed.")).to_be_visible()
    await check_page(page)

    # The assignment, handed in; the instructor grades it (the staff pages come with a later release).
    await page.goto(f"{course_url}/lessons/{course.lessons['Hazard report']}")
    await check_page(page)
    await page.get_by_role("button", name="Open the assignment").click()
    await expect(page.get_by_role("heading", name="Hazard report")).to_be_visible()
    await check_page(page)
    await page.get_by_label("Your answer").fill("A loose cable crosses the corridor by the kitchen.")
    await page.get_by_role("button", name="Submit", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Your work is submitted.")
    await check_page(page)
    listed = await client.get(
        f"{host(tenant)}/api/v1/assignments/{course.assignment_id}/submissions", headers=course.author
    )
    [submission] = listed.json()["items"]
    graded_url = f"{host(tenant)}/api/v1/assignment-submissions/{submission['id']}"
    assert (await client.post(f"{graded_url}/review", headers=course.author)).status_code == 200
    graded = await client.post(
        f"{graded_url}/grade", json={"scores": GRADES, "feedback": "Good catch"}, headers=course.author
    )
    assert graded.status_code == 200, graded.text
    assert graded.json()["passed"] is True
    await page.reload()
    await expect(page.get_by_text("Good catch")).to_be_visible()
    await check_page(page)

    # The course is complete: My learning says so, and the certificate's PDF is ready.
    await page.goto(f"{base}/")
    await expect(page.get_by_role("link", name=COURSE_TITLE)).to_be_visible()
    await check_page(page)

    async def certificate_ready() -> bool | None:
        await page.goto(f"{base}/certificates")
        return True if await page.get_by_role("button", name="Download PDF").count() else None

    await eventually(certificate_ready, timeout=60)
    await expect(page.get_by_text(COURSE_TITLE)).to_be_visible()
    await check_page(page)
    pdf_href = await page.get_by_role("button", name="Download PDF").get_attribute("href")
    assert pdf_href is not None
    # Fetched by the page itself (the browser resolves *.localhost; the test's own HTTP client does not).
    pdf = await page.evaluate(
        """async (href) => {
            const response = await fetch(href);
            const head = new Uint8Array(await response.arrayBuffer()).slice(0, 5);
            return {status: response.status, type: response.headers.get("content-type"),
                    head: String.fromCharCode(...head)};
        }""",
        pdf_href,
    )
    assert pdf["status"] == 200
    assert pdf["type"].startswith("application/pdf")
    assert pdf["head"] == "%PDF-"
    verify_href = await page.get_by_role("link", name="Verification page").get_attribute("href")
    assert verify_href is not None
    # The QR code's address is the site's public one (no test port): the same path on this server.
    verify_path = "/verify/" + verify_href.split("/verify/", 1)[1]
    assert verify_href.startswith(("/verify/", f"http://{tenant.slug}.localhost", f"https://{tenant.slug}.localhost"))
    verify_url = f"{base}{verify_path}"

    # A stranger scans the QR code: signed out, a valid certificate, as a web page.
    stranger = await chromium.new_context(viewport=page.viewport_size, locale="en-GB")
    visitor = await stranger.new_page()
    response = await visitor.goto(verify_url)
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    await expect(visitor.get_by_text("Sam Learner")).to_be_visible()
    await expect(visitor.get_by_text(re.compile("valid", re.IGNORECASE)).first).to_be_visible()
    await check_page(visitor)
    await stranger.close()

    # Hooli's learner, on Hooli's own site, finds none of Globex's course, lesson or certificate.
    cert_id = verify_url.rstrip("/").rsplit("/", 1)[-1]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert (await session.get(Certificate, UUID(cert_id))) is not None
    outsider = await make_member(make_user, other)
    elsewhere = await chromium.new_context(viewport=page.viewport_size, locale="en-GB")
    their_page = await elsewhere.new_page()
    their_site = site(other, web_server)
    await their_page.goto(f"{their_site}/sign-in")
    await check_page(their_page)
    await sign_in(their_page, outsider.email, PASSWORD)
    await their_page.wait_for_url(f"{their_site}/")
    await check_page(their_page)
    for path in (
        f"/courses/{course.id}",
        f"/courses/{course.id}/lessons/{course.lessons['Emergency exits']}",
        f"/courses/{course.id}/lessons/{course.lessons['Safety check']}/quiz",
        f"/verify/{cert_id}",
    ):
        response = await their_page.goto(f"{their_site}{path}")
        assert response is not None
        assert response.status == 404, path
        await expect(their_page.get_by_role("heading", name="Page not found")).to_be_visible()
        await check_page(their_page)
    await their_page.goto(f"{their_site}/certificates")
    await expect(their_page.get_by_role("heading", name="No certificates yet")).to_be_visible()
    await check_page(their_page)
    await elsewhere.close()


async def test_a_german_learner_takes_the_course_in_german(
    web_server: int,
    chromium: Browser,
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant(name="Beispiel AG")
    course = await build_full_course(client, make_user, login, tenant, None)
    learner = await make_member(make_user, tenant, display_name="Greta Lernende", locale="de")
    base = site(tenant, web_server)
    context = await chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{base}/sign-in")
    await check_page(page)
    await sign_in(page, learner.email, PASSWORD)
    await page.wait_for_url(f"{base}/")
    assert await page.get_attribute("html", "lang") == "de"
    await expect(page.get_by_role("heading", name="Noch keine Kurse")).to_be_visible()
    await check_page(page)

    await page.goto(f"{base}/courses?q=workplace+saftey")
    await expect(page.get_by_role("link", name=COURSE_TITLE)).to_be_visible()
    await check_page(page)
    await page.get_by_role("link", name=COURSE_TITLE).click()
    await expect(page.get_by_role("heading", name="Gliederung")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Einschreiben").click()
    await expect(page.get_by_role("status")).to_contain_text("Sie sind eingeschrieben.")
    await check_page(page)
    await open_lesson(page, "Emergency exits")
    await page.get_by_role("button", name="Als erledigt markieren").click()
    await expect(page.get_by_role("status")).to_contain_text("Lektion als erledigt markiert.")
    await check_page(page)
    await page.goto(f"{base}/courses/{course.id}/lessons/{course.lessons['Safety check']}/quiz")
    await expect(page.get_by_role("heading", name="Safety check")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Quiz starten").click()
    await expect(page.get_by_role("timer")).to_contain_text("Verbleibende Zeit:")
    await check_page(page)
    await page.goto(f"{base}/certificates")
    await expect(page.get_by_role("heading", name="Zertifikate", level=1)).to_be_visible()
    await check_page(page)
    response = await page.goto(f"{base}/no-such-page")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="Seite nicht gefunden")).to_be_visible()
    await expect(page.get_by_text("Angemeldet als Greta Lernende")).to_be_visible()  # the header knows her too
    await check_page(page)
    await context.close()
