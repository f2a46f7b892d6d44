"""Players send progress events; the fold turns them into lesson progress, completion and resume points."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, text

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import LearningOutboxEntry
from lms.learning.services.ingest import FOLD_TASK, StreamKeys
from lms.learning.services.progress import record_assessment_result
from lms.lib.jobs import Job, build_celery, send_now
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.integration.catalog.helpers import BuiltCourse, Client, build_course, instructor, learner
from tests.integration.identity.helpers import secure_host
from tests.integration.learning.conftest import Fold
from tests.integration.web.test_pages import browser_headers

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def heartbeat(
    course: BuiltCourse, position: float, watched: list[list[float]], t: float, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "video_heartbeat",
        "client_event_id": extra.pop("client_event_id", uuid.uuid4().hex),
        "lesson_id": extra.pop("lesson_id", course.lessons["Intro video"]),
        "course_id": extra.pop("course_id", course.id),
        "occurred_at": at(t),
        "position": position,
        "watched": watched,
        **extra,
    }


async def enrolled_learner(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, **course: Any
) -> tuple[Tenant, BuiltCourse, Any, dict[str, str]]:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    built = await build_course(client, tenant, author, **course)
    user, headers = await learner(make_user, login, tenant)
    response = await client.post(f"{host(tenant)}/api/v1/enrollments", json={"course_id": built.id}, headers=headers)
    assert response.status_code == 201
    return tenant, built, user, headers


async def send(client: Client, course: BuiltCourse, headers: dict[str, str], *events: dict[str, Any]) -> Any:
    return await client.post(f"{course.base}/api/v1/progress/events", json={"events": list(events)}, headers=headers)


async def test_watching_most_of_a_video_completes_it_and_the_course_reaches_half(
    client: Client, db: Database, fold: Fold, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
    # Played 0-50, rewatched 40-50 (not double counted), skipped ahead, then played 55-96.
    response = await send(
        client,
        course,
        headers,
        heartbeat(course, 50, [[0, 50]], 50),
        heartbeat(course, 50, [[40, 50]], 60),
        heartbeat(course, 96, [[55, 96]], 120),
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 3
    await fold()

    resume = (
        await client.get(
            f"{course.base}/api/v1/progress/lessons/{course.lessons['Intro video']}/resume", headers=headers
        )
    ).json()
    assert resume["status"] == "completed"
    assert resume["watched_seconds"] == 91
    assert resume["position_seconds"] == 96

    mine = (await client.get(f"{course.base}/api/v1/me/learning/courses", headers=headers)).json()["items"]
    assert mine[0]["completion_pct"] == 50.0
    async with tenant_session(db.app_sessions, tenant.id) as session:
        milestones = (
            await session.execute(select(LearningOutboxEntry.milestone).where(LearningOutboxEntry.user_id == user.id))
        ).scalars()
        assert sorted(m for m in milestones if m) == [25, 50]


async def test_seeking_to_the_end_does_not_complete_a_video(
    client: Client, fold: Fold, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    _, course, _, headers = await enrolled_learner(client, make_tenant, make_user, login)
    await send(client, course, headers, heartbeat(course, 99, [[0, 10]], 10))
    await fold()
    resume = (
        await client.get(
            f"{course.base}/api/v1/progress/lessons/{course.lessons['Intro video']}/resume", headers=headers
        )
    ).json()
    assert resume["status"] == "in_progress"
    assert resume["watched_seconds"] == 10
    assert resume["position_seconds"] == 99


async def test_duplicates_are_ignored_and_late_events_do_not_rewind_the_resume_point(
    client: Client, db: Database, fold: Fold, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
    newest = heartbeat(course, 70, [[60, 70]], 300, client_event_id="phone-7")
    await send(client, course, headers, newest)
    await fold()
    # The laptop's older heartbeat arrives late; the phone's event is retried.
    await send(client, course, headers, heartbeat(course, 20, [[10, 20]], 100), newest)
    await fold()
    resume = (
        await client.get(
            f"{course.base}/api/v1/progress/lessons/{course.lessons['Intro video']}/resume", headers=headers
        )
    ).json()
    assert resume["position_seconds"] == 70
    assert resume["position_at"].startswith((T0 + timedelta(seconds=300)).isoformat()[:19])
    assert resume["watched_seconds"] == 20  # the late event's watched range still counts
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = (
            await session.execute(text("select count(*) from progress_events where user_id = :u"), {"u": user.id})
        ).scalar_one()
    assert stored == 2


async def test_bad_events_are_rejected_by_name_while_good_ones_are_accepted(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, _, headers = await enrolled_learner(client, make_tenant, make_user, login)
    _, author = await instructor(make_user, login, tenant)
    other = await build_course(client, tenant, author)
    long_video = (
        await client.post(
            f"{course.base}/api/v1/courses/{course.id}/modules/{course.modules[0]}/lessons",
            json={"title": "Long", "type": "video", "duration_seconds": 3600},
            headers=course.author,
        )
    ).json()["id"]
    events = [
        heartbeat(course, 10, [[0, 10]], 10),
        heartbeat(course, 10, [], 11, lesson_id=str(uuid.uuid4())),
        heartbeat(course, 10, [], 12, lesson_id=other.lessons["Intro video"]),
        heartbeat(course, 500, [], 13),
        heartbeat(other, 5, [], 14),
        {"type": "video_heartbeat", "lesson_id": course.lessons["Intro video"]},
        {
            "type": "text_scrolled",
            "client_event_id": "t1",
            "lesson_id": course.lessons["Reading"],
            "course_id": course.id,
            "occurred_at": at(5),
            "depth": 1.5,
        },
        heartbeat(course, 30, [[40, 20]], 15),
        heartbeat(course, 200, [[0, 200]], 16, lesson_id=long_video, client_event_id="too-much"),
    ]
    response = await send(client, course, headers, *events)
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 8)
    errors = {r["index"]: r.get("error") for r in body["results"]}
    assert errors[0] is None
    assert errors[1]["code"] == "unknown_lesson"
    assert errors[1]["field"] == "events[1].lesson_id"
    assert errors[2]["code"] == "lesson_not_in_course"
    assert errors[3]["code"] == "position_beyond_duration"
    assert errors[3]["field"] == "events[3].position"
    assert errors[4]["code"] == "not_enrolled"
    assert errors[5]["code"] == "invalid_event"
    assert errors[5]["field"].startswith("events[5]")
    assert errors[6]["field"] == "events[6].depth"
    assert errors[7]["code"] == "invalid_range"
    assert errors[8]["field"] == "events[8].watched"

    nothing_good = await send(client, course, headers, heartbeat(course, 500, [], 20))
    assert nothing_good.status_code == 422
    malformed = await client.post(f"{course.base}/api/v1/progress/events", json={"events": "nope"}, headers=headers)
    assert malformed.status_code in (400, 422)
    assert malformed.json()["error"]["field"] == "events"
    too_many = await send(client, course, headers, *[heartbeat(course, 1, [], 1) for _ in range(101)])
    assert too_many.status_code in (400, 422)
    url = f"{course.base}/api/v1/progress/events"
    broken = await client.post(url, content=b'{"events": [', headers={**headers, "content-type": "application/json"})
    assert broken.status_code == 400
    assert (broken.json()["error"]["code"], broken.json()["error"]["field"]) == ("invalid_json", "body")
    stray = await client.post(url, json={"events": [heartbeat(course, 1, [], 1)], "extra": 1}, headers=headers)
    assert stray.status_code == 422
    assert stray.json()["error"]["field"] == "extra"
    not_an_object = await send(client, course, headers, heartbeat(course, 1, [], 1), 7)  # type: ignore[arg-type]
    assert not_an_object.status_code == 202
    assert not_an_object.json()["results"][1]["error"]["field"] == "events[1]"
    missing = {k: v for k, v in heartbeat(course, 1, [], 1, client_event_id="no-position").items() if k != "position"}
    reported = (await send(client, course, headers, heartbeat(course, 1, [], 1), missing)).json()["results"][1]
    assert reported["client_event_id"] == "no-position"
    assert reported["error"]["field"] == "events[1].position"


async def test_finishing_every_lesson_completes_the_course_once(
    client: Client, db: Database, fold: Fold, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
    scrolled = {
        "type": "text_scrolled",
        "client_event_id": "scroll-1",
        "lesson_id": course.lessons["Reading"],
        "course_id": course.id,
        "occurred_at": at(200),
        "depth": 0.85,
    }
    await send(client, course, headers, heartbeat(course, 100, [[0, 100]], 100), scrolled)
    await fold()
    await send(client, course, headers, heartbeat(course, 100, [[0, 100]], 400))
    await fold()
    enrollment = (await client.get(f"{course.base}/api/v1/enrollments", headers=headers)).json()["items"][0]
    assert enrollment["status"] == "completed"
    assert enrollment["completion_pct"] == 100.0
    async with tenant_session(db.app_sessions, tenant.id) as session:
        kinds = (
            await session.execute(
                select(LearningOutboxEntry.kind, LearningOutboxEntry.milestone).where(
                    LearningOutboxEntry.user_id == user.id
                )
            )
        ).all()
    assert sorted(kinds, key=lambda k: (k[0], k[1] or 0)) == [
        ("course_completed", None),
        ("milestone", 25),
        ("milestone", 50),
        ("milestone", 75),
        ("milestone", 100),
    ]


async def test_module_behind_a_quiz_is_locked_until_the_quiz_is_passed(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, publish=False, lessons=[{"title": "Check", "type": "quiz"}])
    quiz_id = course.lessons["Check"]
    locked_module = await client.post(
        f"{course.base}/api/v1/courses/{course.id}/modules",
        json={"title": "Advanced", "prerequisites": [{"kind": "quiz_passed", "lesson_id": quiz_id}]},
        headers=author,
    )
    assert locked_module.status_code == 201, locked_module.text
    advanced = await client.post(
        f"{course.base}/api/v1/courses/{course.id}/modules/{locked_module.json()['id']}/lessons",
        json={"title": "Deep dive", "type": "text", "content": {"body": "secret"}},
        headers=author,
    )
    await client.post(f"{course.base}/api/v1/courses/{course.id}/publish", json={}, headers=author)
    user, headers = await learner(make_user, login, tenant)
    await client.post(f"{course.base}/api/v1/enrollments", json={"course_id": course.id}, headers=headers)

    url = f"{course.base}/api/v1/me/learning/courses/{course.id}/lessons/{advanced.json()['id']}"
    locked = await client.get(url, headers=headers)
    assert locked.status_code == 403
    assert locked.json()["error"]["code"] == "lesson_locked"
    assert "Check" in locked.json()["error"]["message"]
    # The course page says so in the outline, before the learner tries the lesson.
    course_page = f"{secure_host(tenant)}/courses/{course.id}"
    browser = browser_headers(headers["Authorization"].removeprefix("Bearer "))
    outline = await client.get(course_page, headers=browser)
    assert outline.headers["content-type"].startswith("text/html")
    assert "Pass the quiz &#39;Check&#39; first." in outline.text
    assert f"/lessons/{advanced.json()['id']}" not in outline.text

    async with tenant_session(db.app_sessions, tenant.id) as session:
        await record_assessment_result(session, user.id, UUID(quiz_id), passed=False, score=40)
    assert (await client.get(url, headers=headers)).status_code == 403
    async with tenant_session(db.app_sessions, tenant.id) as session:
        progress = await record_assessment_result(session, user.id, UUID(quiz_id), passed=True, score=90)
        assert progress.status.value == "completed"
    opened = await client.get(url, headers=headers)
    assert opened.status_code == 200
    assert opened.json()["content"] == {"body": "secret"}
    unlocked = await client.get(course_page, headers=browser)
    assert "first." not in unlocked.text
    assert f"/lessons/{advanced.json()['id']}" in unlocked.text


async def test_learners_keep_their_version_until_migrated(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, _, headers = await enrolled_learner(client, make_tenant, make_user, login)
    author = course.author
    await client.patch(
        f"{course.base}/api/v1/courses/{course.id}/lessons/{course.lessons['Reading']}",
        json={"content": {"body": "v2 text"}},
        headers=author,
    )
    await client.post(f"{course.base}/api/v1/courses/{course.id}/publish", json={}, headers=author)
    url = f"{course.base}/api/v1/me/learning/courses/{course.id}/lessons/{course.lessons['Reading']}"
    before = (await client.get(url, headers=headers)).json()
    assert (before["version"], before["content"]) == (1, {"body": "Keep data safe."})

    migrated = await client.post(
        f"{course.base}/api/v1/courses/{course.id}/versions/2/migrate", json={}, headers=author
    )
    assert migrated.json() == {"migrated": 1}
    after = (await client.get(url, headers=headers)).json()
    assert (after["version"], after["content"]) == (2, {"body": "v2 text"})
    assert tenant


async def test_continue_where_i_left_off(
    client: Client, fold: Fold, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    _, course, _, headers = await enrolled_learner(client, make_tenant, make_user, login)
    empty = (await client.get(f"{course.base}/api/v1/me/learning/continue", headers=headers)).json()
    assert empty["lesson_title"] == "Intro video"
    await send(client, course, headers, heartbeat(course, 42, [[0, 42]], 42))
    await fold()
    resumed = (await client.get(f"{course.base}/api/v1/me/learning/continue", headers=headers)).json()
    assert (resumed["lesson_id"], resumed["position_seconds"]) == (course.lessons["Intro video"], 42)


async def test_a_lesson_not_started_resumes_at_its_beginning(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    _, course, _, headers = await enrolled_learner(client, make_tenant, make_user, login)
    lesson = course.lessons["Intro video"]
    answer = await client.get(f"{course.base}/api/v1/progress/lessons/{lesson}/resume", headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "lesson_id": str(lesson),
        "position_seconds": 0.0,
        "position_at": None,
        "status": "not_started",
        "watched_seconds": 0.0,
        "scroll_depth": 0.0,
    }


async def test_progress_of_another_tenant_is_unreachable(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    _, course_b, _, headers_b = await enrolled_learner(client, make_tenant, make_user, login)
    a = await make_tenant()
    _, headers_a = await learner(make_user, login, a)
    lesson = course_b.lessons["Intro video"]
    assert (
        await client.get(f"{host(a)}/api/v1/progress/lessons/{lesson}/resume", headers=headers_a)
    ).status_code == 404
    events = await client.post(
        f"{host(a)}/api/v1/progress/events", json={"events": [heartbeat(course_b, 1, [], 1)]}, headers=headers_a
    )
    assert events.status_code == 422
    assert events.json()["results"][0]["error"]["code"] == "unknown_lesson"
    # B's token on A's host
    foreign = await client.get(f"{host(a)}/api/v1/progress/lessons/{lesson}/resume", headers=headers_b)
    assert foreign.status_code == 401


async def test_the_worker_folds_what_the_api_accepted(
    worker: Any, client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
    response = await send(client, course, headers, *[heartbeat(course, i, [[i - 1, i]], i) for i in range(1, 11)])
    assert response.json()["accepted"] == 10

    async def folded() -> bool:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            count = (
                await session.execute(text("select count(*) from progress_events where user_id = :u"), {"u": user.id})
            ).scalar_one()
        return bool(count == 10)

    await eventually(folded, timeout=30)


async def test_batches_arriving_while_a_fold_is_pending_are_all_folded(
    worker: Any,
    client: Client,
    db: Database,
    redis: Any,
    settings: Settings,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    """Append and claim are one atomic step: a batch either schedules a fold for the end of the
    window, or a fold already scheduled (and not yet started) reads it. Nothing waits for beat."""
    tenant, course, user, headers = await enrolled_learner(client, make_tenant, make_user, login)
    keys = StreamKeys.for_queue(settings.celery_queue)
    # Another API process holds the window and has scheduled its fold.
    await redis.set(keys.scheduled, b"1", px=500)
    send_now(Job(FOLD_TASK, (), countdown=0.5), build_celery(settings))
    sent = 0
    for n in range(8):  # across that fold and the windows after it
        batch = [heartbeat(course, 5 * n + i, [[5 * n + i - 1, 5 * n + i]], 5 * n + i) for i in range(1, 6)]
        assert (await send(client, course, headers, *batch)).json()["accepted"] == 5
        sent += 5
        await asyncio.sleep(0.3)

    async def stored() -> bool:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            count = (
                await session.execute(text("select count(*) from progress_events where user_id = :u"), {"u": user.id})
            ).scalar_one()
        return bool(count == sent)

    await eventually(stored, timeout=15)
