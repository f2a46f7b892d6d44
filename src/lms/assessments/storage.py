"""Where submission files live: a small object-store interface over the local storage folder.

Keys are deterministic (`t/<tenant>/assignments/<submission>/<version>/<filename>`), so a retried
upload overwrites the same object instead of leaving a second copy.
"""

from __future__ import annotations

import functools
import re
from typing import Protocol
from uuid import UUID

import anyio

from lms.config import Settings
from lms.lib.storage import Storage, storage_for


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...


class SharedObjectStore:
    """The platform's object storage (S3 or the local folder), without blocking the event loop."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(functools.partial(self.storage.put_bytes, key, data, content_type))

    async def get(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(self.storage.get_bytes, key)


def submission_store(settings: Settings) -> ObjectStore:
    return SharedObjectStore(storage_for(settings))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """The client's file name reduced to a safe object-key segment."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "file"
    return cleaned[-120:]


def submission_key(tenant_id: UUID, submission_id: UUID, version: int, filename: str) -> str:
    return f"t/{tenant_id}/assignments/{submission_id}/{version}/{filename}"
