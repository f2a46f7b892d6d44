"""Object storage behind one interface: S3-compatible (boto3) or a local folder (the embedded default).

`STORAGE_URL=s3://bucket?endpoint=http://minio:9000&region=eu-west-1` selects S3 (any S3 endpoint);
`file:///var/lib/lms/storage` or no URL (a folder under the data directory) selects the local backend.
Both support multipart uploads, so a large upload is resumable part by part on either.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from lms.config import Settings
from lms.lib.faults import disk_full_as_error

# put_stream copies in pieces of this size: few system calls, bounded memory.
COPY_CHUNK_BYTES = 1024 * 1024


class StorageError(Exception):
    """A storage operation failed (missing object, unknown upload, backend error)."""


class ObjectMissing(StorageError):
    pass


@dataclass(frozen=True)
class UploadedPart:
    number: int
    size: int
    etag: str


@runtime_checkable
class Storage(Protocol):
    """What the platform needs from object storage; keys are `/`-separated paths."""

    # Smallest part a multipart upload accepts (except the last part).
    min_part_size: int

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None: ...
    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def create_multipart(self, key: str, content_type: str) -> str: ...
    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str: ...
    def presign_part(self, key: str, upload_id: str, number: int, expires_in: int) -> str | None: ...
    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]: ...
    def complete_multipart(self, key: str, upload_id: str, parts: Iterable[UploadedPart]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...


class LocalStorage:
    """Objects as files under `root`; multipart parts are files under `root/.multipart/<upload id>/`."""

    min_part_size = 64 * 1024

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or key.startswith("."):
            raise StorageError(f"invalid key {key!r}")
        return path

    def _write(self, key: str, write: Any) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half an object and a re-run overwrites atomically.
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        with disk_full_as_error(temporary, "the file"):
            write(temporary)
        temporary.replace(target)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._write(key, lambda p: p.write_bytes(data))

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        self._write(key, lambda p: shutil.copyfile(path, p))

    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        """Copy a readable file object chunk by chunk (a large upload is never held in memory whole)."""

        def copy(target: Path) -> None:
            with target.open("wb") as out:
                shutil.copyfileobj(stream, out, COPY_CHUNK_BYTES)

        self._write(key, copy)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectMissing(key) from exc

    def download(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectMissing(key)
        shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.exists():
            return []
        root = self.root.resolve()
        return sorted(
            str(p.resolve().relative_to(root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        return len(keys)

    def _parts_dir(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise StorageError("unknown upload")
        return self.root / ".multipart" / upload_id

    def create_multipart(self, key: str, content_type: str) -> str:
        upload_id = uuid.uuid4().hex
        directory = self._parts_dir(upload_id)
        directory.mkdir(parents=True)
        (directory / "key").write_text(key)
        return upload_id

    def _open_upload(self, key: str, upload_id: str) -> Path:
        directory = self._parts_dir(upload_id)
        if not (directory / "key").is_file() or (directory / "key").read_text() != key:
            raise StorageError("unknown upload")
        return directory

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        directory = self._open_upload(key, upload_id)
        temporary = directory / f".{number}.{uuid.uuid4().hex}"
        with disk_full_as_error(temporary, f"part {number}"):
            temporary.write_bytes(data)
        temporary.replace(directory / f"{number:05d}.part")
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def presign_part(self, key: str, upload_id: str, number: int, expires_in: int) -> str | None:
        return None  # parts go through the platform's own chunk endpoint

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        directory = self._open_upload(key, upload_id)
        parts = []
        for path in sorted(directory.glob("*.part")):
            parts.append(UploadedPart(number=int(path.stem), size=path.stat().st_size, etag=""))
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: Iterable[UploadedPart]) -> None:
        directory = self._open_upload(key, upload_id)

        def assemble(target: Path) -> None:
            with target.open("wb") as out:
                for part in sorted(parts, key=lambda p: p.number):
                    with (directory / f"{part.number:05d}.part").open("rb") as chunk:
                        shutil.copyfileobj(chunk, out, 1024 * 1024)

        self._write(key, assemble)
        shutil.rmtree(directory, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        shutil.rmtree(self._parts_dir(upload_id), ignore_errors=True)


class S3Storage:
    """Any S3-compatible service through boto3; large uploads go straight to S3 by presigned part URLs."""

    min_part_size = 5 * 1024 * 1024

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        self.client.upload_fileobj(stream, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get_bytes(self, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise ObjectMissing(key) from exc
        return body

    def download(self, key: str, path: Path) -> None:
        if not self.exists(key):
            raise ObjectMissing(key)
        self.client.download_file(self.bucket, key, str(path))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError:
            return False
        return True

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except self.client.exceptions.ClientError as exc:
            raise ObjectMissing(key) from exc

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def create_multipart(self, key: str, content_type: str) -> str:
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return str(response["UploadId"])

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        response = self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return str(response["ETag"])

    def presign_part(self, key: str, upload_id: str, number: int, expires_in: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
                ExpiresIn=expires_in,
            )
        )

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts: list[UploadedPart] = []
        try:
            pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                parts.extend(
                    UploadedPart(number=int(p["PartNumber"]), size=int(p["Size"]), etag=str(p["ETag"]))
                    for p in page.get("Parts", [])
                )
        except self.client.exceptions.ClientError as exc:
            raise StorageError("unknown upload") from exc
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: Iterable[UploadedPart]) -> None:
        listed = [{"PartNumber": p.number, "ETag": p.etag} for p in sorted(parts, key=lambda p: p.number)]
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        # Already completed or aborted: nothing left to clean.
        with contextlib.suppress(self.client.exceptions.ClientError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)


def storage_from_url(url: str | None, data_dir: Path | None = None) -> Storage:
    """Build the storage backend named by `STORAGE_URL` (no client is created at import time)."""
    if not url:
        if data_dir is None:
            raise ValueError("no STORAGE_URL and no data directory for local storage")
        return LocalStorage(data_dir / "storage")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(parts.path))
    if parts.scheme == "s3":
        import boto3  # deferred: only S3 deployments pay for it
        from botocore.config import Config

        options = {k: v[0] for k, v in parse_qs(parts.query).items()}
        # Path-style addressing when an endpoint is given (MinIO and most S3-compatible services).
        addressing = options.get("addressing", "path" if options.get("endpoint") else "auto")
        client = boto3.client(
            "s3",
            endpoint_url=options.get("endpoint"),
            region_name=options.get("region", "us-east-1"),
            config=Config(signature_version="s3v4", s3={"addressing_style": addressing}),
        )
        return S3Storage(parts.netloc, client)
    raise ValueError(f"unsupported STORAGE_URL scheme {parts.scheme!r} (use s3:// or file://)")


def storage_for(settings: Settings) -> Storage:
    return storage_from_url(settings.storage_url, settings.data_dir)


def media_prefix(tenant_id: Any, asset_id: Any) -> str:
    """Deterministic key prefix of one tenant's media asset."""
    return f"t/{tenant_id}/media/{asset_id}/"
