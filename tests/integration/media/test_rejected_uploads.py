"""Uploads that must not become videos: not a video, truncated, too large, another tenant's upload."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.storage import StorageError, storage_for
from lms.media.models import AssetStatus, MediaUpload
from lms.media.services import expire_abandoned_uploads
from lms.tenancy.services import Actor, TenantAdmin
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.media_fixtures import MediaSite, SiteClient, generate_video, send_parts, start_upload, wait_for_asset
from tests.support import TEST_BASE_DOMAIN

Client = AsyncTestClient[Litestar]


async def upload_bytes(client: SiteClient, headers: dict[str, str], name: str, data: bytes) -> dict[str, Any]:
    upload = await start_upload(client, headers, name, len(data))
    await send_parts(client, headers, upload, data)
    completed = await client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)
    assert completed.status_code == 202, completed.text
    return await wait_for_asset(client, headers, upload["asset_id"], {"ready", "failed"})


async def test_a_text_file_is_rejected_with_a_reason(
    media_client: SiteClient, media_site: MediaSite, media_worker: Any
) -> None:
    asset = await upload_bytes(media_client, media_site.staff_headers, "notes.mp4", b"these are my notes\n" * 5000)
    assert asset["status"] == AssetStatus.FAILED
    assert "not a readable media file" in asset["failure_reason"]
    assert asset["renditions"] == []


@pytest.fixture
def slide_png(tmp_path: Path) -> bytes:
    image = tmp_path / "slide.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(image)],
        check=True,
    )
    return image.read_bytes()


async def test_an_image_is_not_a_video(
    media_client: SiteClient, media_site: MediaSite, media_worker: Any, slide_png: bytes
) -> None:
    asset = await upload_bytes(media_client, media_site.staff_headers, "slide.mp4", slide_png)
    assert asset["status"] == AssetStatus.FAILED
    assert "not a video container" in asset["failure_reason"]


async def test_a_truncated_video_is_rejected(
    media_client: SiteClient, media_site: MediaSite, media_sources: Path, media_worker: Any
) -> None:
    whole = (media_sources / "short.mp4").read_bytes()
    asset = await upload_bytes(media_client, media_site.staff_headers, "cut.mp4", whole[: len(whole) * 2 // 3])
    assert asset["status"] == AssetStatus.FAILED
    assert "not a readable media file" in asset["failure_reason"] or "truncated" in asset["failure_reason"]


async def test_a_faststart_video_cut_short_is_caught_as_truncated(
    media_client: SiteClient, media_site: MediaSite, media_worker: Any, tmp_path: Path
) -> None:
    source = generate_video(tmp_path / "fast.mp4", 4, "320x180", faststart=True)
    whole = source.read_bytes()
    asset = await upload_bytes(media_client, media_site.staff_headers, "fast.mp4", whole[: len(whole) // 2])
    assert asset["status"] == AssetStatus.FAILED
    assert "truncated" in asset["failure_reason"]


async def test_an_upload_over_the_tenant_limit_is_refused(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN)
        await admin.update(await admin.get(tenant.id), settings={"media_max_upload_bytes": 1_000_000})
    headers = await login(await make_user(tenant, roles=["instructor"]))
    body = {"title": "Huge", "filename": "huge.mp4", "size_bytes": 1_000_001}
    response = await client.post(f"{host(tenant)}/api/v1/media/uploads", json=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "size_bytes"
    assert response.json()["error"]["message"] == "the file is 1000001 bytes; this site accepts at most 1000000"
    assert "localised_message" not in response.json()["error"]
    # A browser (the uploader) gets the sentence in its language too, numbers in that language's form.
    german = await client.post(
        f"{host(tenant)}/api/v1/media/uploads", json=body, headers={**headers, "Accept-Language": "de-DE,de;q=0.9"}
    )
    assert german.json()["error"]["localised_message"] == (
        "Die Datei ist 1.000.001 Byte groß; diese Website akzeptiert höchstens 1.000.000."
    )
    listed = await client.get(f"{host(tenant)}/api/v1/media/assets", headers=headers)
    assert listed.json()["total"] == 0  # nothing half-written


async def test_parts_of_the_wrong_size_and_early_completion_are_refused(
    media_client: SiteClient, media_site: MediaSite
) -> None:
    headers = media_site.staff_headers
    upload = await start_upload(media_client, headers, "clip.mp4", 600_000)
    url = upload["missing_parts"][0]["url"]
    too_big = await media_client.put(url, content=b"x" * (upload["part_size"] + 1), headers=headers)
    assert too_big.status_code == 413
    beyond = await media_client.put(url.replace("/parts/1", "/parts/9"), content=b"x", headers=headers)
    assert beyond.status_code == 422
    assert beyond.json()["error"]["field"] == "number"
    early = await media_client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)
    assert early.status_code == 409
    assert "missing" in early.json()["error"]["message"]


async def test_an_aborted_upload_is_cleaned_up(media_client: SiteClient, media_site: MediaSite) -> None:
    headers = media_site.staff_headers
    upload = await start_upload(media_client, headers, "clip.mp4", 600_000)
    await media_client.put(upload["missing_parts"][0]["url"], content=b"x" * upload["part_size"], headers=headers)
    aborted = await media_client.delete(f"/api/v1/media/uploads/{upload['id']}", headers=headers)
    assert aborted.status_code == 200
    assert aborted.json()["status"] == "aborted"
    asset = (await media_client.get(f"/api/v1/media/assets/{upload['asset_id']}", headers=headers)).json()
    assert asset["status"] == "failed"
    retry = await media_client.put(upload["missing_parts"][1]["url"], content=b"x", headers=headers)
    assert retry.status_code == 409


async def test_another_tenants_upload_is_invisible_and_foreign_tokens_are_refused(
    client: Client,
    media_client: SiteClient,
    media_site: MediaSite,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    victim = await start_upload(media_client, media_site.staff_headers, "private.mp4", 600_000)
    other = await make_tenant()
    intruder = await login(await make_user(other, roles=["tenant_admin"]))
    base = f"{host(other)}/api/v1/media"
    assert (await client.get(f"{base}/uploads/{victim['id']}", headers=intruder)).status_code == 404
    part = await client.put(
        f"{base}/uploads/{victim['id']}/parts/1", content=b"x" * victim["part_size"], headers=intruder
    )
    assert part.status_code == 404
    assert (await client.post(f"{base}/uploads/{victim['id']}/complete", headers=intruder)).status_code == 404
    assert (await client.get(f"{base}/assets/{victim['asset_id']}", headers=intruder)).status_code == 404
    # The victim's own staff token on the other tenant's host is not accepted at all.
    foreign = await client.get(f"{base}/uploads/{victim['id']}", headers=media_site.staff_headers)
    assert foreign.status_code == 401
    # The upload itself is untouched.
    status = (await media_client.get(f"/api/v1/media/uploads/{victim['id']}", headers=media_site.staff_headers)).json()
    assert status["parts_received"] == []


async def test_learners_cannot_upload(media_client: SiteClient, media_site: MediaSite) -> None:
    body = {"title": "Mine", "filename": "mine.mp4", "size_bytes": 10}
    response = await media_client.post("/api/v1/media/uploads", json=body, headers=media_site.learner_headers)
    assert response.status_code == 403


async def test_abandoned_uploads_are_aborted_by_the_cleanup_job(
    media_client: SiteClient, media_site: MediaSite, db: Database, settings: Settings
) -> None:
    headers = media_site.staff_headers
    upload = await start_upload(media_client, headers, "forgotten.mp4", 600_000)
    await media_client.put(upload["missing_parts"][0]["url"], content=b"x" * upload["part_size"], headers=headers)
    async with tenant_session(db.app_sessions, media_site.tenant.id) as session:
        row = await session.get(MediaUpload, UUID(upload["id"]))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    storage = storage_for(settings)
    assert len(storage.list_parts(row.object_key, row.storage_upload_id)) == 1

    assert await expire_abandoned_uploads(db, storage) >= 1

    status = (await media_client.get(f"/api/v1/media/uploads/{upload['id']}", headers=headers)).json()
    assert status["status"] == "aborted"
    asset = (await media_client.get(f"/api/v1/media/assets/{upload['asset_id']}", headers=headers)).json()
    assert asset["status"] == "failed"
    assert "abandoned" in asset["failure_reason"]
    with pytest.raises(StorageError):
        storage.list_parts(row.object_key, row.storage_upload_id)
