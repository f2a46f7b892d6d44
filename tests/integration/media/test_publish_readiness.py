"""An instructor cannot publish a lesson whose video is still processing; once ready, they can."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.media.models import AssetStatus, MediaAsset
from tests.conftest import Login, MakeTenant, MakeUser
from tests.factories.media import make_asset
from tests.integration.catalog.helpers import build_course, instructor


async def test_publish_waits_for_the_lessons_video(
    client: AsyncTestClient[Litestar], db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    author, headers = await instructor(make_user, login, tenant)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        asset = await make_asset(session, tenant.id, uploaded_by=author.id, status=AssetStatus.PROCESSING)
    course = await build_course(
        client,
        tenant,
        headers,
        publish=False,
        lessons=[{"title": "Welcome", "type": "video", "duration_seconds": 60, "media_asset_id": str(asset.id)}],
    )
    publish_url = f"{course.base}/api/v1/courses/{course.id}/publish"

    refused = await client.post(publish_url, json={}, headers=headers)
    assert refused.status_code == 409
    assert "'Welcome'" in refused.json()["error"]["message"]
    assert "not ready" in refused.json()["error"]["message"]

    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(update(MediaAsset).where(MediaAsset.id == asset.id).values(status=AssetStatus.READY))
    published = await client.post(publish_url, json={}, headers=headers)
    assert published.status_code == 200, published.text
