"""Where submission files live: a small object-store interface over the local storage folder.

Files are stored before the submission's transaction begins (no database connection is held while
they travel), under a fresh staging id: `t/<tenant>/assignments/<assignment>/<staging id>/<filename>`.
The submission version then records the keys; if that transaction fails, the files are deleted.
"""

from __future__ import annotations

import functools
import re
from typing import IO, Protocol
from uuid import UUID

import anyio

from lms.config import Settings
from lms.lib.storage import Storage, storage_for


class ObjectStore(Protocol):
    async def put(self, key: str, file: IO[bytes], content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class SharedObjectStore:
    """The platform's object storage (S3 or the local folder), without blocking the event loop."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def put(self, key: str, file: IO[bytes], content_type: str) -> None:
        """Copies `file` from where it stands, in pieces, in a worker thread."""
        await anyio.to_thread.run_sync(functools.partial(self.storage.put_stream, key, file, content_type))

    async def get(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(self.storage.get_bytes, key)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self.storage.delete, key)


def submission_store(settings: Settings) -> ObjectStore:
    return SharedObjectStore(storage_for(settings))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """The client's file name reduced to a safe object-key segment."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "file"
    return cleaned[-120:]


def submission_key(tenant_id: UUID, assignment_id: UUID, staging_id: UUID, filename: str) -> str:
    return f"t/{tenant_id}/assignments/{assignment_id}/{staging_id}/{filename}"
