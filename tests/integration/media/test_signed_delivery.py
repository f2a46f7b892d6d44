"""Signed stream delivery: expiring, tamper-proof, tenant-bound URLs; captions; access; beacons."""

from __future__ import annotations

import time
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.learning.models import EnrollmentStatus
from lms.media.services.delivery import StreamSigner
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.media_fixtures import MediaSite, SiteClient, UploadedVideo

Client = AsyncTestClient[Litestar]
CAPTIONS = (
    "WEBVTT\n\n00:00:00.500 --> 00:00:04.000\nWelcome to the lecture.\n\n00:00:04.000 --> 00:00:09.000\nToday: HLS.\n"
)


async def first_segment_url(media_client: SiteClient, site: MediaSite, asset_id: str) -> str:
    master = await media_client.get(f"/api/v1/media/assets/{asset_id}/master.m3u8", headers=site.staff_headers)
    variant = next(line for line in master.text.splitlines() if line.startswith("/media/s/"))
    playlist = (await media_client.get(variant)).text
    segment = next(line for line in playlist.splitlines() if line.endswith(".ts"))
    return variant.rsplit("/", 1)[0] + "/" + segment


async def test_segments_are_immutable_and_playlists_short_lived(
    ready_video: UploadedVideo, media_client: SiteClient, media_site: MediaSite
) -> None:
    segment_url = await first_segment_url(media_client, media_site, ready_video.asset_id)
    segment = await media_client.get(segment_url)
    assert segment.status_code == 200
    assert segment.headers["content-type"] == "video/mp2t"
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert segment.content[:1] == b"\x47"  # MPEG-TS sync byte
    variant = await media_client.get(segment_url.rsplit("/", 1)[0] + "/index.m3u8")
    assert variant.headers["cache-control"] == "private, max-age=10"


async def test_tampered_expired_and_foreign_segment_urls_are_forbidden(
    ready_video: UploadedVideo,
    media_client: SiteClient,
    media_site: MediaSite,
    settings: Settings,
    client: Client,
    make_tenant: MakeTenant,
) -> None:
    segment_url = await first_segment_url(media_client, media_site, ready_video.asset_id)
    _, asset_id, token, rest = _parts(segment_url)
    expiry, mac = token.split(".")

    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert (await media_client.get(f"/media/s/{asset_id}/{expiry}.{flipped}/{rest}")).status_code == 403
    later = str(int(expiry) + 3600)
    assert (await media_client.get(f"/media/s/{asset_id}/{later}.{mac}/{rest}")).status_code == 403

    signer = StreamSigner(settings)
    tenant_id = media_site.tenant.id
    video_id = UUID(ready_video.asset_id)
    expired = signer.token(tenant_id, video_id, now=time.time() - 3 * settings.media_url_ttl_seconds)
    assert (await media_client.get(f"/media/s/{asset_id}/{expired}/{rest}")).status_code == 403
    fresh = signer.token(tenant_id, video_id)
    assert (await media_client.get(f"/media/s/{asset_id}/{fresh}/{rest}")).status_code == 200

    # The same valid URL shared to another tenant's site is refused there.
    other = await make_tenant()
    assert (await client.get(f"{host(other)}/media/s/{asset_id}/{token}/{rest}")).status_code == 403
    # The uploaded source is never served, even with a valid token.
    assert (await media_client.get(f"/media/s/{asset_id}/{token}/source")).status_code == 404
    assert (await media_client.get(f"/media/s/{asset_id}/{token}/../source")).status_code in (403, 404)


def _parts(url: str) -> tuple[str, str, str, str]:
    # /media/s/<asset>/<token>/<rest...>
    _, media, s, asset_id, token, rest = url.split("/", 5)
    return f"/{media}/{s}", asset_id, token, rest


async def test_only_staff_and_enrolled_learners_get_playlists(
    ready_video: UploadedVideo,
    media_client: SiteClient,
    media_site: MediaSite,
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    url = f"/api/v1/media/assets/{ready_video.asset_id}/master.m3u8"
    assert (await media_client.get(url)).status_code == 401
    # Not enrolled in any course that uses this video.
    assert (await media_client.get(url, headers=media_site.learner_headers)).status_code == 403
    assert (await media_client.get(url, headers=media_site.staff_headers)).status_code == 200
    other = await make_tenant()
    outsider = await login(await make_user(other, roles=["tenant_admin"]))
    assert (await client.get(f"{host(other)}{url}", headers=outsider)).status_code == 404
    assert (await client.get(f"{host(other)}{url}", headers=media_site.staff_headers)).status_code == 401


async def test_captions_are_served_as_an_hls_subtitles_group(
    ready_video: UploadedVideo, media_client: SiteClient, media_site: MediaSite
) -> None:
    base = f"/api/v1/media/assets/{ready_video.asset_id}"
    headers = media_site.staff_headers
    bad = await media_client.put(f"{base}/captions/en?label=English", content=b"hello", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body"
    put = await media_client.put(f"{base}/captions/en?label=English", content=CAPTIONS.encode(), headers=headers)
    assert put.status_code == 200, put.text
    master = (await media_client.get(f"{base}/master.m3u8", headers=headers)).text
    assert 'TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en"' in master
    assert 'SUBTITLES="subs"' in master
    caption_playlist_url = master.split('URI="', 1)[1].split('"', 1)[0]
    caption_playlist = await media_client.get(caption_playlist_url)
    assert caption_playlist.status_code == 200
    assert "en.vtt" in caption_playlist.text
    vtt = await media_client.get(caption_playlist_url.replace(".m3u8", ".vtt"))
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert "Welcome to the lecture." in vtt.text
    asset = (await media_client.get(base, headers=headers)).json()
    assert asset["captions"] == [{"language": "en", "label": "English"}]


async def test_quality_beacons_are_stored_per_session(
    ready_video: UploadedVideo, media_client: SiteClient, media_site: MediaSite
) -> None:
    base = f"/api/v1/media/assets/{ready_video.asset_id}"
    events = {
        "session_id": "session-beacon-test",
        "events": [
            {"kind": "ttff", "value_ms": 380, "position_seconds": 0},
            {"kind": "switch", "rendition": "480p", "position_seconds": 2.5},
            {"kind": "stall", "value_ms": 900, "position_seconds": 6.1},
            {"kind": "heartbeat", "position_seconds": 8.0},
        ],
    }
    response = await media_client.post(f"{base}/playback-events", json=events, headers=media_site.staff_headers)
    assert response.status_code == 202
    assert response.json() == {"recorded": 4}
    invalid = {"session_id": "session-beacon-test", "events": [{"kind": "explode"}]}
    rejected = await media_client.post(f"{base}/playback-events", json=invalid, headers=media_site.staff_headers)
    assert rejected.status_code in (400, 422)
    sessions = (await media_client.get(f"{base}/playback-sessions", headers=media_site.staff_headers)).json()["items"]
    summary = next(s for s in sessions if s["session_id"] == "session-beacon-test")
    assert summary["time_to_first_frame_ms"] == 380
    assert (summary["stalls"], summary["stalled_ms"], summary["switches"]) == (1, 900, 1)
    assert summary["renditions"] == ["480p"]
    playback = (await media_client.get(f"{base}/playback", headers=media_site.staff_headers)).json()
    assert playback["resume_position_seconds"] == 8.0


async def test_enrolled_learners_and_the_course_instructors_may_watch(
    ready_video: UploadedVideo, media_client: SiteClient, media_site: MediaSite, db: Database
) -> None:
    tenant_id = media_site.tenant.id
    async with tenant_session(db.app_sessions, tenant_id) as session:
        enrolled = await factories.identity.make_user(session, tenant_id, roles=["learner"])
        lapsed = await factories.identity.make_user(session, tenant_id, roles=["learner"])
        teacher = await factories.identity.make_user(session, tenant_id, roles=["instructor"])
        other_teacher = await factories.identity.make_user(session, tenant_id, roles=["instructor"])
        course = await factories.catalog.make_course(session, tenant_id, instructor_ids=[teacher.id])
        module = await factories.catalog.make_module(session, tenant_id, course=course)
        await factories.catalog.make_lesson(
            session, tenant_id, module=module, media_asset_id=UUID(ready_video.asset_id)
        )
        for learner, status in ((enrolled, EnrollmentStatus.ACTIVE), (lapsed, EnrollmentStatus.EXPIRED)):
            await factories.learning.make_enrollment(
                session,
                tenant_id,
                user_id=learner.id,
                course_id=course.id,
                course_owner=course.catalogue_owner,
                status=status,
            )
    url = f"/api/v1/media/assets/{ready_video.asset_id}/master.m3u8"

    async def status_for(user: User) -> int:
        headers = {"Authorization": f"Bearer {await media_site.token_for(user)}"}
        return (await media_client.get(url, headers=headers)).status_code

    assert await status_for(enrolled) == 200
    assert await status_for(teacher) == 200
    assert await status_for(lapsed) == 403
    assert await status_for(other_teacher) == 403
