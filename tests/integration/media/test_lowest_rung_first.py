"""A source that cannot be stream-copied (here MPEG-4 Part 2) is playable once its lowest rung is
encoded and joined, before the rest of the ladder."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.storage import storage_for
from lms.media.models import MediaAsset
from lms.media.services.ladder import encode_chunk
from lms.media.services.pipeline import process_asset
from tests.media_fixtures import MediaSite, SiteClient, send_parts, start_upload
from tests.support import private_queue

pytestmark = pytest.mark.worker


@pytest.fixture
def queue(settings: Settings) -> Iterator[Settings]:
    with private_queue(settings) as private:
        yield private


def mpeg4_source(path: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=854x480:rate=30:duration=8",
         "-c:v", "mpeg4", "-q:v", "5", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


async def test_a_source_that_cannot_be_copied_is_playable_from_its_lowest_rung_first(
    media_client: SiteClient, media_site: MediaSite, db: Database, queue: Settings, tmp_path: Path
) -> None:
    data = mpeg4_source(tmp_path / "old.avi")
    headers = media_site.staff_headers
    upload = await start_upload(media_client, headers, "old.avi", len(data))
    await send_parts(media_client, headers, upload, data)
    assert (await media_client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)).is_success
    tenant_id, asset_id = media_site.tenant.id, UUID(upload["asset_id"])
    storage = storage_for(queue)

    # The jobs, run here one by one, in the order the queue holds them.
    assert await process_asset(db, storage, queue, tenant_id, asset_id, final_attempt=True) == "processing"
    asset = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
    assert asset["playable"] is False  # nothing to copy: no rendition yet
    assert asset["renditions"] == []
    async with tenant_session(db.app_sessions, tenant_id) as session:
        row = await session.get(MediaAsset, asset_id)
        assert row is not None
        assert row.details["ladder"]["passes"] == [["360p"], ["480p"]]

    assert await encode_chunk(db, storage, queue, tenant_id, asset_id, 0, 0, final_attempt=True) == "processing"
    asset = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
    assert asset["playable"] is True
    assert asset["status"] == "processing"
    assert [r["name"] for r in asset["renditions"]] == ["360p"]
    assert 0 < asset["progress"] < 100
    master = await media_client.get(f"/api/v1/media/assets/{asset_id}/master.m3u8", headers=headers)
    assert master.status_code == 200
    assert "RESOLUTION=640x360" in master.text

    # A redelivered copy of a finished chunk changes nothing.
    assert await encode_chunk(db, storage, queue, tenant_id, asset_id, 0, 0, final_attempt=True) == "processing"
    assert await encode_chunk(db, storage, queue, tenant_id, asset_id, 1, 0, final_attempt=True) == "ready"
    asset = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
    assert asset["status"] == "ready"
    assert asset["progress"] == 100
    assert [r["name"] for r in asset["renditions"]] == ["480p", "360p"]
    assert asset["attempts"] == 1
