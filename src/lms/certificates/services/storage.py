"""Where certificate PDFs live, and the short-lived signed links that serve them.

PDFs are written under the local folder of STORAGE_URL (file://...) with deterministic keys
`t/<tenant>/certificates/<cert_id>.pdf`, so a retried render overwrites the same object.
"""

from __future__ import annotations

from uuid import UUID

from lms.config import Settings
from lms.lib import clock
from lms.lib.signing import link_key, sign, verify
from lms.lib.storage import ObjectMissing, Storage, storage_for

DOWNLOAD_SECONDS = 300


def pdf_key(tenant_id: UUID, cert_id: UUID) -> str:
    return f"t/{tenant_id}/certificates/{cert_id}.pdf"


class CertificateFiles:
    """Certificate PDFs in the platform's object storage (S3 or the local folder)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @classmethod
    def from_settings(cls, settings: Settings) -> CertificateFiles:
        return cls(storage_for(settings))

    def put(self, key: str, data: bytes) -> None:
        self.storage.put_bytes(key, data, "application/pdf")

    def get(self, key: str) -> bytes | None:
        try:
            return self.storage.get_bytes(key)
        except ObjectMissing:
            return None

    def exists(self, key: str) -> bool:
        return self.storage.exists(key)


def _download_scope(tenant_id: UUID, cert_id: UUID) -> str:
    return f"{tenant_id}|{cert_id}"


def signed_download_path(secret_key: str, tenant_id: UUID, cert_id: UUID, now: float | None = None) -> str:
    """A link to the PDF valid for DOWNLOAD_SECONDS, bound to the tenant and the certificate."""
    expires = int((now if now is not None else clock.timestamp()) + DOWNLOAD_SECONDS)
    token = sign(link_key(secret_key, "certificate-download"), _download_scope(tenant_id, cert_id), expires)
    signature = token.partition(".")[2]
    return f"/certificates/files/{cert_id}.pdf?expires={expires}&signature={signature}"


def download_signature_valid(secret_key: str, tenant_id: UUID, cert_id: UUID, expires: int, signature: str) -> bool:
    key = link_key(secret_key, "certificate-download")
    return verify(key, _download_scope(tenant_id, cert_id), f"{expires}.{signature}")
