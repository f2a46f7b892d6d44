"""Uploaded captions become a transcript: the watch page lists its lines, and catalogue search finds
the course by a phrase said in the video, with the lesson and the second it is said."""

from __future__ import annotations

from uuid import UUID

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.media.models import AssetStatus
from lms.media.services.transcripts import parse_webvtt
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client
from tests.media_fixtures import MediaSite, SiteClient

CAPTIONS = """WEBVTT

NOTE written by the course team

intro
00:00:01.000 --> 00:00:04.500
<v Lecturer>Welcome to this course.</v>

00:01:02.250 --> 00:01:06.000 align:start
Today we look at <b>quantum</b> entanglement
and what &amp; why it matters.

01:02:03.000 --> 01:02:05.000
Thank you for watching.
"""


def test_cues_are_read_as_plain_text_with_their_times() -> None:
    cues = parse_webvtt(CAPTIONS)
    assert [(c.start, c.end) for c in cues] == [(1.0, 4.5), (62.25, 66.0), (3723.0, 3725.0)]
    assert cues[0].text == "Welcome to this course."
    assert cues[1].text == "Today we look at quantum entanglement and what & why it matters."


async def _course_showing_a_video(db: Database, site: MediaSite) -> tuple[UUID, UUID, UUID]:
    tenant_id = site.tenant.id
    async with tenant_session(db.app_sessions, tenant_id) as session:
        asset = await factories.media.make_asset(
            session, tenant_id, uploaded_by=site.instructor.id, status=AssetStatus.READY, duration_seconds=3730.0
        )
        course = await factories.catalog.make_course(
            session, tenant_id, title="Physics for managers", summary="An overview", status="published"
        )
        module = await factories.catalog.make_module(session, tenant_id, course=course)
        lesson = await factories.catalog.make_lesson(
            session, tenant_id, module=module, title="Spooky action", media_asset_id=asset.id
        )
        return course.id, lesson.id, asset.id


async def test_search_finds_a_course_by_a_phrase_said_in_its_video(
    media_client: SiteClient, media_site: MediaSite, db: Database
) -> None:
    course_id, lesson_id, asset_id = await _course_showing_a_video(db, media_site)
    search = "/api/v1/catalog/search"
    before = await media_client.get(search, params={"q": "quantum entanglement"}, headers=media_site.learner_headers)
    assert before.json()["total"] == 0

    put = await media_client.put(
        f"/api/v1/media/assets/{asset_id}/captions/en?label=English",
        content=CAPTIONS.encode(),
        headers=media_site.staff_headers,
    )
    assert put.status_code == 200, put.text

    found = (
        await media_client.get(search, params={"q": '"quantum entanglement"'}, headers=media_site.learner_headers)
    ).json()
    assert [hit["id"] for hit in found["items"]] == [str(course_id)]
    spoken = found["items"][0]["spoken"]
    assert spoken["lesson_id"] == str(lesson_id)
    assert spoken["lesson_title"] == "Spooky action"
    assert spoken["start_seconds"] == 62.25
    assert "quantum entanglement" in spoken["text"]
    # Stemmed like the rest of the catalogue: "watched" finds "watching".
    watched = (await media_client.get(search, params={"q": "watched"}, headers=media_site.learner_headers)).json()
    assert str(course_id) in [hit["id"] for hit in watched["items"]]
    # A course found by its own text carries no spoken hit.
    by_title = (await media_client.get(search, params={"q": "physics"}, headers=media_site.learner_headers)).json()
    assert [hit["spoken"] for hit in by_title["items"] if hit["id"] == str(course_id)] == [None]

    # Replacing the captions replaces the transcript; removing them removes it.
    replaced = await media_client.put(
        f"/api/v1/media/assets/{asset_id}/captions/en?label=English",
        content=b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nSomething else entirely.\n",
        headers=media_site.staff_headers,
    )
    assert replaced.status_code == 200
    gone = (await media_client.get(search, params={"q": "entanglement"}, headers=media_site.learner_headers)).json()
    assert gone["total"] == 0
    assert (
        await media_client.delete(f"/api/v1/media/assets/{asset_id}/captions/en", headers=media_site.staff_headers)
    ).status_code == 200
    empty = (await media_client.get(search, params={"q": "something else"}, headers=media_site.learner_headers)).json()
    assert empty["total"] == 0


async def test_the_watch_page_shows_the_transcript_as_lines_that_seek(
    media_client: SiteClient, media_site: MediaSite, db: Database
) -> None:
    _, _, asset_id = await _course_showing_a_video(db, media_site)
    await media_client.put(
        f"/api/v1/media/assets/{asset_id}/captions/en?label=English",
        content=CAPTIONS.encode(),
        headers=media_site.staff_headers,
    )
    page = await media_client.get(f"/media/{asset_id}/watch", headers=media_site.staff_headers)
    assert page.status_code == 200
    assert 'id="transcript"' in page.text
    assert 'data-start="62.25"' in page.text
    assert "1:02" in page.text  # the time shown on the line
    assert "Today we look at quantum entanglement" in page.text
    assert page.text.count('class="transcript-line"') == 3


async def test_another_tenants_spoken_phrases_are_not_found(
    client: Client, media_client: SiteClient, media_site: MediaSite, db: Database,
    make_tenant: MakeTenant, make_user: MakeUser, login: Login,
) -> None:  # fmt: skip
    _, _, asset_id = await _course_showing_a_video(db, media_site)
    said = b"WEBVTT\n\n00:00:03.000 --> 00:00:06.000\nThe zebra crossing regulation applies.\n"
    put = await media_client.put(
        f"/api/v1/media/assets/{asset_id}/captions/en?label=English", content=said, headers=media_site.staff_headers
    )
    assert put.status_code == 200
    mine = await media_client.get(
        "/api/v1/catalog/search", params={"q": "zebra crossing"}, headers=media_site.learner_headers
    )
    assert mine.json()["total"] == 1

    other = await make_tenant()
    outsider = await login(await make_user(other))
    theirs = await client.get(f"{host(other)}/api/v1/catalog/search", params={"q": "zebra crossing"}, headers=outsider)
    assert theirs.status_code == 200
    assert theirs.json()["total"] == 0
    # Nor can another tenant's staff read or replace the track.
    other_staff = await login(await make_user(other, roles=["instructor"]))
    foreign = await client.put(
        f"{host(other)}/api/v1/media/assets/{asset_id}/captions/en?label=English", content=said, headers=other_staff
    )
    assert foreign.status_code == 404
