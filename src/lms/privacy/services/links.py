"""Short-lived signed links to a finished export's zip, bound to the tenant and the export."""

from __future__ import annotations

from uuid import UUID

from lms.lib import clock
from lms.lib.signing import link_key, sign, verify

DOWNLOAD_SECONDS = 15 * 60
_PURPOSE = "personal-data-export"


def _scope(tenant_id: UUID, export_id: UUID) -> str:
    return f"{tenant_id}|{export_id}"


def signed_export_path(secret_key: str, tenant_id: UUID, export_id: UUID, now: float | None = None) -> tuple[str, int]:
    """The download path, valid for DOWNLOAD_SECONDS, and the Unix second it stops working."""
    expires = int((now if now is not None else clock.timestamp()) + DOWNLOAD_SECONDS)
    signature = sign(link_key(secret_key, _PURPOSE), _scope(tenant_id, export_id), expires).partition(".")[2]
    return f"/admin/privacy/exports/{export_id}/download?expires={expires}&signature={signature}", expires


def export_signature_valid(secret_key: str, tenant_id: UUID, export_id: UUID, expires: int, signature: str) -> bool:
    return verify(link_key(secret_key, _PURPOSE), _scope(tenant_id, export_id), f"{expires}.{signature}")
