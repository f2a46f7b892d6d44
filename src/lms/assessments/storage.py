"""Where submission files live: a small object-store interface over the local storage folder.

Keys are deterministic (`t/<tenant>/assignments/<submission>/<version>/<filename>`), so a retried
upload overwrites the same object instead of leaving a second copy. When the platform-wide
`lms.lib.storage` (S3 or local) is available, `submission_store` is the one place to switch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit
from uuid import UUID

import anyio

from lms.config import Settings


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalObjectStore:
    """Objects as files under a root folder (the `file://` form of STORAGE_URL)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("object key escapes the storage root")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = anyio.Path(self._path(key))
        await path.parent.mkdir(parents=True, exist_ok=True)
        await path.write_bytes(data)

    async def get(self, key: str) -> bytes:
        return await anyio.Path(self._path(key)).read_bytes()


def submission_store(settings: Settings) -> ObjectStore:
    url = settings.storage_url or f"file://{settings.data_dir / 'storage'}"
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise RuntimeError(f"assignment files need a file:// STORAGE_URL here, got {parts.scheme}://")
    return LocalObjectStore(Path(unquote(parts.path)))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """The client's file name reduced to a safe object-key segment."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "file"
    return cleaned[-120:]


def submission_key(tenant_id: UUID, submission_id: UUID, version: int, filename: str) -> str:
    return f"t/{tenant_id}/assignments/{submission_id}/{version}/{filename}"
