"""An instructor uses the studio in Chromium, at desktop size (pages audited at 360 px), with axe-core on every page:
create a course, build its outline (drag and drop and the keyboard's arrow buttons), write a text
lesson, publish, look at the versions; upload a video in parts, resume it after the page is reloaded
half-way, add captions, publish once it is processed; a colleague who does not teach it cannot open it;
follow a video from the course analytics to its watch-through curve and playback quality."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import BrowserContext, Page, Route, expect

from lms.analytics.courses.services import refresh_all
from lms.analytics.videos.services import refresh_all as refresh_video_rollups
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import LessonProgress, ProgressEvent
from lms.media.models import PlaybackEvent
from tests.conftest import MakeTenant, MakeUser, eventually
from tests.e2e.conftest import staff_story
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.factories.base import add
from tests.factories.catalog import make_course, make_lesson, make_module
from tests.factories.learning import make_enrollment
from tests.factories.media import make_asset
from tests.integration.identity.helpers import PASSWORD, make_member
from tests.media_fixtures import generate_video

pytestmark = staff_story

# Set STUDIO_SHOTS=/some/folder to keep a screenshot of each page the story visits.
SHOTS = os.environ.get("STUDIO_SHOTS")


async def visit_check(page: Page, name: str) -> None:
    await check_page(page)
    if SHOTS:
        width = (page.viewport_size or {"width": 0})["width"]
        await page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)


async def lesson_titles(page: Page) -> list[str]:
    return [t.strip() for t in await page.locator(".outline-lesson .lesson-name a").all_inner_texts()]


async def test_instructor_creates_builds_reorders_writes_and_publishes_a_course(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    teacher = await make_member(make_user, tenant, roles=["instructor"], display_name="Ines Instructor")
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/teach")
    await sign_in(page, teacher.email, PASSWORD)
    await expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    await visit_check(page, "1-my-courses-empty")

    await page.get_by_role("button", name="Create a course").first.click()
    await page.get_by_label("Title").fill("Fire safety")
    await page.get_by_label("Web name").fill("fire-safety")
    await page.get_by_role("button", name="Create the course").click()
    await expect(page.get_by_text("Your course is created.")).to_be_visible()
    await visit_check(page, "2-outline-empty")

    await page.get_by_label("Module title").fill("Before a fire")
    await page.get_by_role("button", name="Add the module").click()
    for title in ("Exits", "Alarms"):
        await page.get_by_text("Add a lesson to Before a fire").click()
        await page.get_by_label("Lesson title").fill(title)
        await page.get_by_role("button", name="Add the lesson").click()
        await expect(page.get_by_role("heading", name=title)).to_be_visible()
        await page.get_by_role("link", name="Back to the outline").click()
    # The outline is a new page: wait for it rather than read the one being left.
    await expect(page.locator(".outline-lesson .lesson-name a")).to_have_text(["Exits", "Alarms"])
    await visit_check(page, "3-outline")

    # The keyboard path: focus the arrow button and press Enter.
    down = page.get_by_role("button", name="Move down: Exits")
    await down.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("The order is saved.")).to_be_visible()
    await expect(page.locator(".outline-lesson .lesson-name a")).to_have_text(["Alarms", "Exits"])

    # Drag and drop by the handle.
    handles = page.locator(".outline-lesson .drag-handle")
    async with page.expect_navigation():
        await handles.nth(1).drag_to(page.locator(".outline-lesson").nth(0), target_position={"x": 5, "y": 2})
    assert await lesson_titles(page) == ["Exits", "Alarms"]

    await page.get_by_role("link", name="Exits").click()
    await page.get_by_label("Text", exact=True).fill("# Leave calmly\n\nUse the **nearest** exit.")
    await page.get_by_role("button", name="Save the lesson").click()
    await expect(page.locator(".prose strong")).to_have_text("nearest")
    await visit_check(page, "4-lesson")

    await page.get_by_role("link", name="Back to the outline").click()
    await page.get_by_role("link", name="Publish", exact=True).click()
    await visit_check(page, "5-publish-draft")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.get_by_text("Your course is published.")).to_be_visible()
    await expect(page.get_by_role("cell", name=re.compile("Current"))).to_be_visible()
    await visit_check(page, "6-published")

    await page.get_by_role("link", name="Settings", exact=True).click()
    await visit_check(page, "7-settings")
    course_base = page.url.split("/settings")[0]

    # A question bank with a question, seen as learners will see it.
    await page.get_by_role("link", name="Question banks", exact=True).click()
    await visit_check(page, "12-banks-empty")
    await page.get_by_label("Bank title").fill("Fire facts")
    await page.get_by_role("button", name="Create the bank").click()
    await page.get_by_label("Question", exact=True).fill("Where do you meet?")
    await page.get_by_label("Options").fill("Car park\n* Assembly point\nCanteen")
    await page.get_by_role("button", name="Add the question").click()
    await expect(page.get_by_text("The question is added.")).to_be_visible()
    await expect(page.get_by_role("group", name="Where do you meet?")).to_be_visible()
    await visit_check(page, "13-bank")

    # Analytics, gradebook and grading with nothing in them yet.
    await page.goto(f"{course_base}/analytics")
    await expect(page.get_by_role("heading", name="Drop-off per lesson")).to_be_visible()
    await visit_check(page, "14-analytics")
    await page.goto(f"{course_base}/gradebook")
    await visit_check(page, "15-gradebook")
    await page.goto(f"{base}/teach/grading")
    await expect(page.get_by_text("Nothing to grade")).to_be_visible()
    await visit_check(page, "16-grading")
    await page.goto(f"{base}/teach")
    await expect(page.get_by_role("link", name="Fire safety", exact=True)).to_be_visible()
    await visit_check(page, "8-my-courses")
    course_url = await page.get_by_role("link", name="Fire safety", exact=True).get_attribute("href")

    # A colleague who does not teach it sees neither the course in their list nor its editor.
    colleague = await make_member(make_user, tenant, roles=["instructor"])
    assert context.browser is not None
    other = await context.browser.new_context(viewport=page.viewport_size)
    other_page = await other.new_page()
    await other_page.goto(f"{base}/teach")
    await sign_in(other_page, colleague.email, PASSWORD)
    await expect(other_page.get_by_text("You do not teach a course yet")).to_be_visible()
    response = await other_page.goto(f"{base}{course_url}")
    assert response is not None
    assert response.status == 403
    await other.close()


async def test_instructor_uploads_a_video_in_parts_resumes_after_reload_adds_captions_and_publishes(
    web_server: int,
    context: BrowserContext,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    media_worker: object,
    tmp_path: Path,
) -> None:
    source = generate_video(tmp_path / "evacuation.mp4", 3, "320x180")
    size = source.stat().st_size
    part_size = 64 * 1024
    assert size > 3 * part_size  # several parts, so the upload can stop half-way
    captions = tmp_path / "evacuation.vtt"
    captions.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nWalk, do not run.\n")

    tenant = await make_tenant(name="Acme Corp")
    teacher = await make_member(make_user, tenant, roles=["instructor"])
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/teach/courses/new")
    await sign_in(page, teacher.email, PASSWORD)
    await page.get_by_label("Title").fill("Evacuation")
    await page.get_by_label("Web name").fill("evacuation")
    await page.get_by_role("button", name="Create the course").click()
    await page.get_by_label("Module title").fill("Drills")
    await page.get_by_role("button", name="Add the module").click()
    await page.get_by_text("Add a lesson to Drills").click()
    await page.get_by_label("Lesson title").fill("The drill on film")
    await page.get_by_label("Kind of lesson").select_option("video")
    await page.get_by_label("Length in minutes").fill("1")
    await page.get_by_role("button", name="Add the lesson").click()
    await expect(page.get_by_role("heading", name="The drill on film")).to_be_visible()
    await visit_check(page, "9-video-lesson-empty")
    lesson_url = page.url.split("?")[0]

    # The connection drops after two parts: the third part never reaches the server.
    sent: list[str] = []

    async def drop_after_two(route: Route) -> None:
        if len(sent) >= 2:
            await route.abort("connectionreset")
            return
        sent.append(route.request.url)
        await route.continue_()

    await page.route(re.compile(r"/api/v1/media/uploads/[^/]+/parts/\d+$"), drop_after_two)
    await page.evaluate(f"document.querySelector('[data-uploader]').dataset.partSize = '{part_size}'")
    await page.locator("#video-file").set_input_files(source)
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.get_by_text("The upload stopped.")).to_be_visible(timeout=30_000)
    assert len(sent) == 2

    # The tab is reloaded: the page says where the upload stopped; the same file continues it.
    await page.unroute(re.compile(r"/api/v1/media/uploads/[^/]+/parts/\d+$"))
    resent: list[str] = []
    page.on("request", lambda r: resent.append(r.url) if re.search(r"/parts/\d+$", r.url) else None)
    await page.reload()
    await expect(page.get_by_text("An upload of “evacuation.mp4” stopped at")).to_be_visible()
    await expect(page.get_by_text("Waiting for the upload to finish.")).to_be_visible()
    await visit_check(page, "10-video-upload-stopped")
    await page.evaluate(f"document.querySelector('[data-uploader]').dataset.partSize = '{part_size}'")
    await page.locator("#video-file").set_input_files(source)
    async with page.expect_navigation(timeout=60_000):
        await page.get_by_role("button", name="Upload", exact=True).click()
    parts = -(-size // part_size)
    assert len(resent) == parts - 2  # only the parts the server did not have
    assert not set(resent) & set(sent)

    # Publishing now is refused with the lesson named, until the video is processed.
    await page.goto(lesson_url.rsplit("/lessons/", 1)[0] + "/publish")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.locator(".error-summary")).to_contain_text("The drill on film")
    await page.goto(lesson_url)
    await expect(page.get_by_text("The video is ready to watch.")).to_be_visible(timeout=120_000)
    # The poster frame is shown, and loads from the signed stream address.
    poster = page.locator("img.video-poster")
    await expect(poster).to_be_visible()
    await page.wait_for_function("document.querySelector('img.video-poster').complete")
    assert await poster.evaluate("img => img.naturalWidth") > 0
    await visit_check(page, "11-video-ready")

    await page.get_by_label("WebVTT file").set_input_files(captions)
    await page.get_by_role("button", name="Add the captions").click()
    await expect(page.get_by_text("The captions are saved.")).to_be_visible()
    await expect(page.locator(".caption-list")).to_contain_text("English")

    await page.goto(lesson_url.rsplit("/lessons/", 1)[0] + "/publish")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.get_by_text("Your course is published.")).to_be_visible()


async def test_instructor_builds_a_quiz_from_a_bank_sees_progress_in_the_gradebook_and_grades_with_the_rubric(
    web_server: int,
    context: BrowserContext,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    media_worker: object,
    db: Database,
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    teacher = await make_member(make_user, tenant, roles=["instructor"])
    learner = await make_member(make_user, tenant, display_name="Lena Learner")
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/teach/courses/new")
    await sign_in(page, teacher.email, PASSWORD)
    await page.get_by_label("Title").fill("First aid")
    await page.get_by_label("Web name").fill("first-aid")
    await page.get_by_role("button", name="Create the course").click()
    course_base = page.url.split("?")[0]
    await page.get_by_label("Module title").fill("Basics")
    await page.get_by_role("button", name="Add the module").click()
    for title, kind in (("Read first", "text"), ("Check", "quiz"), ("Report", "assignment")):
        await page.get_by_text("Add a lesson to Basics").click()
        await page.get_by_label("Lesson title").fill(title)
        await page.get_by_label("Kind of lesson").select_option(kind)
        await page.get_by_role("button", name="Add the lesson").click()
        await page.get_by_role("link", name="Back to the outline").click()

    # A bank, a question, and the quiz drawn from it.
    await page.goto(f"{course_base}/banks")
    await page.get_by_label("Bank title").fill("Basics")
    await page.get_by_role("button", name="Create the bank").click()
    await page.get_by_label("Type of question").select_option("true_false")
    await page.get_by_label("Question", exact=True).fill("Check breathing first.")
    await page.locator("summary", has_text="True or false").click()
    await page.get_by_label("True", exact=True).check()
    await page.get_by_role("button", name="Add the question").click()
    await expect(page.get_by_text("The question is added.")).to_be_visible()
    await page.goto(course_base)
    await page.get_by_role("link", name="Check").click()
    await page.get_by_role("link", name="Set up the quiz and see its item analysis").click()
    await page.get_by_label("How many").first.fill("1")
    await page.get_by_role("button", name="Set up the quiz").click()
    await expect(page.get_by_text("The quiz is set up.")).to_be_visible()
    await visit_check(page, "17-quiz")

    await page.goto(course_base)
    await page.get_by_role("link", name="Report").click()
    await page.get_by_role("link", name="Set up the assignment and its rubric").click()
    await page.get_by_label("Rubric", exact=True).fill("Steps: Missing = 0; Right = 4")
    await page.get_by_role("button", name="Set up the assignment").click()
    await expect(page.get_by_text("The assignment is set up.")).to_be_visible()
    await visit_check(page, "18-assignment")
    await page.goto(f"{course_base}/publish")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.get_by_text("Your course is published.")).to_be_visible()
    course_id = course_base.rsplit("/", 1)[-1]

    # The learner enrols, reads the first lesson and hands in the report.
    assert context.browser is not None
    other = await context.browser.new_context(viewport=page.viewport_size)
    learner_page = await other.new_page()
    await learner_page.goto(f"{base}/courses/{course_id}")
    await sign_in(learner_page, learner.email, PASSWORD)
    await learner_page.get_by_role("button", name="Enrol").click()
    await learner_page.get_by_role("link", name="Read first").click()
    await learner_page.get_by_role("button", name="Mark as complete").click()
    await expect(learner_page.get_by_text("Lesson marked as complete.")).to_be_visible()
    await learner_page.get_by_role("button", name="Next lesson").click()
    await learner_page.get_by_role("button", name="Next lesson").click()
    await learner_page.get_by_role("button", name="Open the assignment").click()
    await learner_page.get_by_label("Your answer").fill("Call for help, then check breathing.")
    await learner_page.get_by_role("button", name="Submit").click()
    await expect(learner_page.get_by_text("Your work is submitted.")).to_be_visible()
    await other.close()

    # The worker folds the progress; the rollups pick it up; the gradebook and drop-off show it.
    async def progress_shown() -> bool:
        await refresh_all(db)
        await page.goto(f"{course_base}/gradebook")
        row = page.get_by_role("row", name=re.compile("Lena Learner"))
        if not await row.count() or not await page.get_by_text("1 learner").count():
            return False
        # The enrolment shows before the worker has folded the completed lesson.
        return not await row.get_by_role("cell", name="Progress: 0%", exact=True).count()

    await eventually(progress_shown, timeout=60)
    await visit_check(page, "19-gradebook")

    # The rollups are refreshed after the fold too: the drop-off counts the completed lesson.
    async def drop_off_shown() -> bool:
        await refresh_all(db)
        await page.goto(f"{course_base}/analytics")
        drop = page.get_by_role("row", name=re.compile("Read first"))
        return (await drop.get_by_role("cell").nth(2).inner_text()).strip() == "1"

    await eventually(drop_off_shown, timeout=60)
    await visit_check(page, "20-analytics")

    # The report is graded with the rubric.
    await page.goto(f"{base}/teach/grading")
    await page.get_by_role("link", name=re.compile("^Grade")).click()
    await expect(page.get_by_text("Call for help, then check breathing.")).to_be_visible()
    await page.get_by_label("Right · 4 points").check()
    await page.get_by_label("Feedback for the learner").fill("Well done.")
    await page.get_by_role("button", name="Save the grade").click()
    await expect(page.get_by_text("The grade is saved.")).to_be_visible()
    await expect(page.get_by_text("Score: 100%")).to_be_visible()
    await visit_check(page, "21-graded")


async def test_instructor_follows_a_video_from_the_drop_off_list_to_its_watch_through_and_playback_quality(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser, db: Database
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    teacher = await make_member(make_user, tenant, roles=["instructor"])
    viewers = [await make_member(make_user, tenant, display_name=f"Viewer {n}") for n in range(3)]
    # Three viewers of a 200 s video stop at the end, at 2:00 and at 1:00; the first re-watches 0:30-1:00.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await make_course(session, tenant.id, title="Evacuation", instructor_ids=[teacher.id])
        module = await make_module(session, tenant.id, course, title="Drills")
        asset = await make_asset(session, tenant.id, status="ready", duration_seconds=200.0)
        lesson = await make_lesson(
            session, tenant.id, module, title="The drill on film", duration_seconds=200, media_asset_id=asset.id
        )
        started = datetime(2026, 11, 20, 9, tzinfo=UTC)
        for n, (viewer, stop) in enumerate(zip(viewers, (200.0, 120.0, 60.0), strict=True)):
            enrollment = await make_enrollment(session, tenant.id, user_id=viewer.id, course_id=course.id)
            await add(
                session,
                LessonProgress(
                    tenant_id=tenant.id, enrollment_id=enrollment.id, user_id=viewer.id, lesson_id=lesson.id,
                    lesson_owner=tenant.id, last_event_at=started,
                ),
            )  # fmt: skip
            ranges = [[0.0, stop]] + ([[30.0, 60.0]] if n == 0 else [])
            session.add(
                ProgressEvent(
                    tenant_id=tenant.id, user_id=viewer.id, client_event_id=f"film-{n}", kind="video_heartbeat",
                    lesson_id=lesson.id, course_id=course.id, occurred_at=started, payload={"p": stop, "w": ranges},
                )
            )  # fmt: skip
            for kind, value in (("ttff", 300 + 400 * n), ("stall", 800 if n == 2 else None), ("ended", None)):
                if kind == "stall" and value is None:
                    continue
                session.add(
                    PlaybackEvent(
                        tenant_id=tenant.id, asset_id=asset.id, user_id=viewer.id, session_id=f"session-{n}-film",
                        kind=kind, value_ms=value,
                    )
                )  # fmt: skip
    await refresh_all(db)
    await refresh_video_rollups(db, settle=timedelta(0))

    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/teach/courses/{course.id}/analytics")
    await sign_in(page, teacher.email, PASSWORD)
    await page.get_by_role("link", name=re.compile("^The drill on film")).click()
    await expect(page.get_by_role("heading", name="Watch-through")).to_be_visible()
    await expect(page.get_by_role("img", name="Viewers who reached each point of the video")).to_be_visible()
    await visit_check(page, "22-video-analytics")
    await page.get_by_text("Show the numbers").click()
    numbers = page.get_by_role("table", name="Viewers, views, re-watches and stops per point of the video")
    first = numbers.get_by_role("row").nth(1)
    await expect(first.get_by_role("cell").nth(1)).to_have_text("3")
    await expect(numbers.get_by_role("row", name=re.compile("^0:30 ")).get_by_role("cell").nth(4)).to_have_text("1")
    quality = page.get_by_role("table", name="Playback quality")
    await expect(quality.get_by_role("row", name=re.compile("Playback sessions"))).to_contain_text("3")
    await expect(quality.get_by_role("row", name=re.compile("Stalls per session"))).to_contain_text("0.33")
    await visit_check(page, "23-video-analytics-numbers")
