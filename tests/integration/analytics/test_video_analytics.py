"""Video analytics from the rollups: heartbeats the real worker folded, and the players' quality
beacons, show up per hundredth of the video after the refresh (viewers once per point, re-watches as
extra views, where each viewer stopped) and in the playback quality. Only the course's staff read
them; another tenant's course is not found."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text

from lms.analytics.videos.models import TTFF_BINS
from lms.analytics.videos.services import refresh_all, refresh_videos, ttff_percentile, uuid7_floor
from lms.catalog.models import Lesson
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.ids import new_id
from lms.media.schemas import PlaybackBeacon, PlaybackBeacons
from lms.media.services import PlaybackEventService
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.factories.media import make_asset
from tests.integration.catalog.helpers import BuiltCourse, Client, build_course, instructor, learner
from tests.integration.catalog.test_studio_pages import headers_of
from tests.integration.identity.helpers import secure_host
from tests.integration.learning.test_progress import heartbeat, send

NOW = timedelta(0)


async def enrol(client: Client, make_user: MakeUser, login: Login, tenant: Tenant, course: BuiltCourse) -> Any:
    user, headers = await learner(make_user, login, tenant)
    response = await client.post(f"{host(tenant)}/api/v1/enrollments", json={"course_id": course.id}, headers=headers)
    assert response.status_code == 201
    return user, headers


async def stored_events(db: Database, tenant: Tenant) -> int:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return int((await session.execute(text("select count(*) from progress_events"))).scalar_one())


async def video_rollups(db: Database, tenant: Tenant) -> dict[str, list[Any]]:
    """The tenant's bucket and viewer rows without ids and timestamps, in a fixed order."""
    statements = {
        "buckets": "select lesson_id, bucket, viewers, played_ms, stops from analytics_video_buckets order by 1, 2",
        "viewers": (
            "select lesson_id, user_id, seen, stop_bucket, position_at from analytics_video_viewers order by 1, 2"
        ),
    }
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return {name: [tuple(row) for row in await session.execute(text(sql))] for name, sql in statements.items()}


async def video_course(client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login) -> Any:
    tenant = await make_tenant()
    teacher, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author)  # "Intro video" lasts 100 s: a bucket is 1 s
    return tenant, author, course, teacher


async def test_folded_heartbeats_and_beacons_show_in_the_rollups_and_on_the_page(
    worker: Any, client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, author, course, teacher = await video_course(client, make_tenant, make_user, login)
    lesson_id = course.lessons["Intro video"]
    ada, ada_headers = await enrol(client, make_user, login, tenant, course)
    bob, bob_headers = await enrol(client, make_user, login, tenant, course)
    # Ada plays 0-50, plays 40-50 again, then 50-60 and leaves at 60 s; Bob plays 0-20 and leaves.
    await send(client, course, ada_headers, heartbeat(course, 50, [[0, 50]], 50), heartbeat(course, 50, [[40, 50]], 60))
    await send(client, course, ada_headers, heartbeat(course, 60, [[50, 60]], 70))
    await send(client, course, bob_headers, heartbeat(course, 20, [[0, 20]], 20))

    def folded(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await stored_events(db, tenant) == count

        return check

    await eventually(folded(4), timeout=30)
    api = f"{course.base}/api/v1/courses/{course.id}/analytics/videos/{lesson_id}"
    before = (await client.get(api, headers=author)).json()
    assert before["viewers"] == 0  # the API reads the rollups, not the events

    assert await refresh_all(db, settle=NOW) >= 4
    data = (await client.get(api, headers=author)).json()
    assert data["viewers"] == 2
    buckets = data["buckets"]
    assert len(buckets) == 100
    assert [buckets[i]["viewers"] for i in (0, 19, 20, 45, 59, 60)] == [2, 2, 1, 1, 1, 0]
    assert buckets[45]["views"] == 2.0  # Ada played 45-46 twice
    assert buckets[45]["rewatches"] == 1.0
    assert buckets[30]["rewatches"] == 0.0
    assert {i: b["stops"] for i, b in enumerate(buckets) if b["stops"]} == {20: 1, 60: 1}
    assert data["quality"] is None

    # Bob comes back: plays 20-30, then 0-10 again and leaves at 10 s. He is not counted twice.
    await send(client, course, bob_headers, heartbeat(course, 30, [[20, 30]], 30))
    await send(client, course, bob_headers, heartbeat(course, 10, [[0, 10]], 40))
    await eventually(folded(6), timeout=30)
    # The lesson's video reports its quality: two sessions, one with a stall and a switch.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        asset = await make_asset(session, tenant.id, status="ready", duration_seconds=100.0)
        lesson = await session.get(Lesson, UUID(lesson_id))
        assert lesson is not None
        lesson.media_asset_id = asset.id
        beacons = PlaybackEventService(session)
        await beacons.record(
            tenant.id,
            asset.id,
            ada.id,
            PlaybackBeacons(
                "session-ada-1",
                [
                    PlaybackBeacon("ttff", 450),
                    PlaybackBeacon("stall", 1000),
                    PlaybackBeacon("switch", rendition="720p"),
                    PlaybackBeacon("ended"),
                ],
            ),
        )
        await beacons.record(
            tenant.id,
            asset.id,
            bob.id,
            PlaybackBeacons("session-bob-1", [PlaybackBeacon("ttff", 1250), PlaybackBeacon("error")]),
        )
    assert await refresh_all(db, settle=NOW) >= 8
    data = (await client.get(api, headers=author)).json()
    buckets = data["buckets"]
    assert data["viewers"] == 2
    assert [buckets[i]["viewers"] for i in (0, 5, 25, 35, 65)] == [2, 2, 2, 1, 0]
    assert buckets[5]["views"] == 3.0
    assert {i: b["stops"] for i, b in enumerate(buckets) if b["stops"]} == {10: 1, 60: 1}
    assert data["quality"] == {
        "sessions": 2,
        "time_to_first_frame_p50_ms": 500,
        "time_to_first_frame_p90_ms": 1300,
        "time_to_first_frame_p95_ms": 1300,
        "stalls": 1,
        "stalls_per_session": 0.5,
        "stalled_ms_per_session": 500.0,
        "errors": 1,
        "rendition_switches": 1,
        "played_to_end": 1,
    }
    # Nothing new: another refresh changes nothing.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await refresh_videos(session, tenant.id, settle=NOW) == 0
    again = (await client.get(api, headers=author)).json()
    assert {**again, "refreshed_to": None} == {**data, "refreshed_to": None}

    # Bob plays 20-25 once more and stops there: his known row is updated, and the rollups are what
    # counting every event from scratch gives.
    await send(client, course, bob_headers, heartbeat(course, 25, [[20, 25]], 80))
    await eventually(folded(7), timeout=30)
    assert await refresh_all(db, settle=NOW) >= 1
    counted = await video_rollups(db, tenant)
    assert {
        i: b["stops"] for i, b in enumerate((await client.get(api, headers=author)).json()["buckets"]) if b["stops"]
    } == {
        25: 1,
        60: 1,
    }
    async with tenant_session(db.app_sessions, tenant.id) as session:
        for table in ("buckets", "viewers", "quality", "marks"):
            await session.execute(text(f"delete from analytics_video_{table}"))
    assert await refresh_all(db, settle=NOW) >= 9
    assert await video_rollups(db, tenant) == counted

    site, browser = f"{secure_host(tenant)}/teach/courses/{course.id}/analytics", await headers_of(login, teacher)
    page = await client.get(f"{site}/videos/{lesson_id}", headers=browser)
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 3
    assert "Watch-through" in page.text
    assert "Playback quality" in page.text
    overview = await client.get(site, headers=browser)
    assert f'href="/teach/courses/{course.id}/analytics/videos/{lesson_id}"' in overview.text


async def test_only_the_course_staff_read_a_videos_analytics(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, author, course, _ = await video_course(client, make_tenant, make_user, login)
    lesson_id = course.lessons["Intro video"]
    api = f"{course.base}/api/v1/courses/{course.id}/analytics/videos/{lesson_id}"
    page = f"{secure_host(tenant)}/teach/courses/{course.id}/analytics/videos/{lesson_id}"
    admin_user = await make_user(tenant, roles=["tenant_admin"])
    assert (await client.get(api, headers=await login(admin_user))).status_code == 200
    assert (await client.get(page, headers=await headers_of(login, admin_user))).status_code == 200

    colleague_user = await make_user(tenant, roles=["instructor"])
    refused = await client.get(api, headers=await login(colleague_user))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert (await client.get(page, headers=await headers_of(login, colleague_user))).status_code == 403
    _, learner_headers = await learner(make_user, login, tenant)
    assert (await client.get(api, headers=learner_headers)).status_code == 403

    reading = course.lessons["Reading"]  # not a video
    missing = await client.get(f"{course.base}/api/v1/courses/{course.id}/analytics/videos/{reading}", headers=author)
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "lesson_id"

    other = await make_tenant()
    stranger = await make_user(other, roles=["tenant_admin"])
    foreign = f"{host(other)}/api/v1/courses/{course.id}/analytics/videos/{lesson_id}"
    assert (await client.get(foreign, headers=await login(stranger))).status_code == 404
    foreign_page = f"{secure_host(other)}/teach/courses/{course.id}/analytics/videos/{lesson_id}"
    assert (await client.get(foreign_page, headers=await headers_of(login, stranger))).status_code == 404


async def test_another_tenants_events_never_reach_a_tenants_rollups(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    """Each tenant's refresh runs bound to it: B's heartbeats for a lesson id count only in B's rows."""
    _, author, course, _ = await video_course(client, make_tenant, make_user, login)
    lesson_id = UUID(course.lessons["Intro video"])
    other = await make_tenant()
    async with tenant_session(db.app_sessions, other.id) as session:
        await session.execute(
            text(
                """insert into analytics_video_buckets (id, tenant_id, course_id, lesson_id, bucket, viewers,
                       played_ms, stops, created_at, updated_at)
                   values (:id, :tenant, :course, :lesson, 0, 99, 99000, 99, now(), now())"""
            ),
            {"id": new_id(), "tenant": other.id, "course": UUID(course.id), "lesson": lesson_id},
        )
    data = (
        await client.get(f"{course.base}/api/v1/courses/{course.id}/analytics/videos/{lesson_id}", headers=author)
    ).json()
    assert data["buckets"][0]["viewers"] == 0


def test_time_to_first_frame_percentiles_come_from_the_histogram() -> None:
    bins = [0] * TTFF_BINS
    assert ttff_percentile(bins, 0.5) is None
    bins[2], bins[9], bins[TTFF_BINS - 1] = 5, 4, 1  # 200-300 ms, 900-1000 ms, 10 s and more
    assert ttff_percentile(bins, 0.5) == 300
    assert ttff_percentile(bins, 0.9) == 1000
    assert ttff_percentile(bins, 0.95) == 10_000


def test_window_bounds_follow_the_time_order_of_uuid7_ids() -> None:
    from datetime import UTC, datetime

    import uuid_utils

    made = UUID(str(uuid_utils.uuid7()))
    now = datetime.now(UTC)
    assert uuid7_floor(now - timedelta(seconds=1)) <= made < uuid7_floor(now + timedelta(seconds=1))
