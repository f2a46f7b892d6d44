"""Where certificate PDFs live, and the short-lived signed links that serve them.

PDFs are written under the local folder of STORAGE_URL (file://...) with deterministic keys
`t/<tenant>/certificates/<cert_id>.pdf`, so a retried render overwrites the same object.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

from lms.config import Settings

DOWNLOAD_SECONDS = 300


def pdf_key(tenant_id: UUID, cert_id: UUID) -> str:
    return f"t/{tenant_id}/certificates/{cert_id}.pdf"


class CertificateFiles:
    """A small object store over a local folder (the same keys an S3 bucket would use)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_settings(cls, settings: Settings) -> CertificateFiles:
        if settings.storage_url and settings.storage_url.startswith("file://"):
            return cls(Path(urlsplit(settings.storage_url).path))
        if settings.storage_url:
            raise RuntimeError("certificate PDFs need a file:// STORAGE_URL until object storage is shared")
        return cls(settings.data_dir / "storage")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("object key escapes the storage root")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a PDF.
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _download_signature(secret_key: str, tenant_id: UUID, cert_id: UUID, expires: int) -> str:
    key = hmac.new(secret_key.encode(), b"certificate-download", hashlib.sha256).digest()
    return hmac.new(key, f"{tenant_id}|{cert_id}|{expires}".encode(), hashlib.sha256).hexdigest()


def signed_download_path(secret_key: str, tenant_id: UUID, cert_id: UUID, now: float | None = None) -> str:
    """A link to the PDF valid for DOWNLOAD_SECONDS, bound to the tenant and the certificate."""
    expires = int((now if now is not None else time.time()) + DOWNLOAD_SECONDS)
    signature = _download_signature(secret_key, tenant_id, cert_id, expires)
    return f"/certificates/files/{cert_id}.pdf?expires={expires}&signature={signature}"


def download_signature_valid(secret_key: str, tenant_id: UUID, cert_id: UUID, expires: int, signature: str) -> bool:
    if expires < time.time():
        return False
    return hmac.compare_digest(_download_signature(secret_key, tenant_id, cert_id, expires), signature)
