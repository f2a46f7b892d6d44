"""The S3 backend against a local S3-compatible server (moto in server mode).

moto does not verify presigned signatures or expiry, so these tests cover the S3 calls and the
upload flow; our own URL signing is tested separately (unit/media, test_signed_delivery).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from litestar.testing import AsyncTestClient
from moto.server import ThreadedMotoServer

from lms.app import create_app
from lms.config import Settings
from lms.lib.storage import S3Storage, storage_from_url
from tests.media_fixtures import MEDIA_HOST, MediaSite

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket_url(s3_endpoint: str) -> str:
    bucket = f"media-{uuid.uuid4().hex[:8]}"
    storage = storage_from_url(f"s3://{bucket}?endpoint={s3_endpoint}")
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}?endpoint={s3_endpoint}"


def test_objects_round_trip_and_prefixes_are_deleted(bucket_url: str) -> None:
    storage = storage_from_url(bucket_url)
    storage.put_bytes("t/a/media/1/hls/360p/index.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")
    storage.put_bytes("t/a/media/1/hls/360p/seg_00000.ts", b"\x47" * 188, "video/mp2t")
    storage.put_bytes("t/a/media/2/poster.jpg", b"jpeg", "image/jpeg")
    assert storage.get_bytes("t/a/media/1/hls/360p/index.m3u8") == b"#EXTM3U\n"
    assert storage.size("t/a/media/1/hls/360p/seg_00000.ts") == 188
    assert storage.list_keys("t/a/media/1/") == [
        "t/a/media/1/hls/360p/index.m3u8",
        "t/a/media/1/hls/360p/seg_00000.ts",
    ]
    assert storage.delete_prefix("t/a/media/1/") == 2
    assert not storage.exists("t/a/media/1/hls/360p/index.m3u8")
    assert storage.exists("t/a/media/2/poster.jpg")


def test_multipart_upload_through_presigned_part_urls(bucket_url: str) -> None:
    storage = storage_from_url(bucket_url)
    data = os.urandom(5 * MiB + 1234)
    upload_id = storage.create_multipart("t/a/media/3/source", "video/mp4")
    for number, chunk in ((1, data[: 5 * MiB]), (2, data[5 * MiB :])):
        url = storage.presign_part("t/a/media/3/source", upload_id, number, 600)
        assert url is not None
        assert "X-Amz-Signature=" in url
        assert httpx.put(url, content=chunk, timeout=30).status_code == 200
    parts = storage.list_parts("t/a/media/3/source", upload_id)
    assert [(p.number, p.size) for p in parts] == [(1, 5 * MiB), (2, 1234)]
    storage.complete_multipart("t/a/media/3/source", upload_id, parts)
    assert storage.get_bytes("t/a/media/3/source") == data


@pytest.fixture
async def s3_client(settings: Settings, bucket_url: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(replace(settings, storage_url=bucket_url))
    async with AsyncTestClient(app=app, base_url=f"http://{MEDIA_HOST}") as client:
        yield client


async def test_upload_api_hands_out_presigned_urls_and_tracks_parts_in_s3(
    s3_client: AsyncTestClient,
    media_site: MediaSite,  # type: ignore[type-arg]
) -> None:
    headers = media_site.staff_headers
    size = 5 * MiB + 10
    body = {"title": "On S3", "filename": "s3.mp4", "size_bytes": size, "part_size": MiB}
    created = await s3_client.post("/api/v1/media/uploads", json=body, headers=headers)
    assert created.status_code == 201, created.text
    upload = created.json()
    # S3 needs parts of at least 5 MiB: the server raised the requested part size.
    assert upload["part_size"] == 5 * MiB
    assert upload["part_count"] == 2
    first = upload["missing_parts"][0]
    assert first["url"].startswith("http://127.0.0.1:")
    async with httpx.AsyncClient() as direct:
        assert (await direct.put(first["url"], content=b"v" * first["size"])).status_code == 200
    status = (await s3_client.get(f"/api/v1/media/uploads/{upload['id']}", headers=headers)).json()
    assert status["parts_received"] == [1]
    assert status["bytes_received"] == 5 * MiB
    assert [p["number"] for p in status["missing_parts"]] == [2]
    aborted = await s3_client.delete(f"/api/v1/media/uploads/{upload['id']}", headers=headers)
    assert aborted.json()["status"] == "aborted"
