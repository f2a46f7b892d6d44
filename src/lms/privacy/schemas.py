"""Privacy shapes on the wire: exports, the erasure request and its outcome, the tenant's policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec


class ExportOut(msgspec.Struct):
    id: UUID
    user_id: UUID
    # queued | ready | failed
    status: str
    requested_at: datetime
    finished_at: datetime | None
    file_size: int | None
    # A signed link, valid until `download_expires_at`; present while the file can be downloaded.
    download_url: str | None
    download_expires_at: datetime | None
    failure: str | None


class ErasureIn(msgspec.Struct):
    # The person's current e-mail address, typed to confirm.
    confirm_email: Annotated[str, msgspec.Meta(max_length=320)]


class ErasureOut(msgspec.Struct):
    user_id: UUID
    erased_at: datetime
    # revoke | keep: what happened to the person's certificates (the tenant's policy at the time)
    certificates: str
    certificates_revoked: int


class ErasureImpactOut(msgspec.Struct):
    user_id: UUID
    email: str
    display_name: str
    enrolments: int
    active_certificates: int
    certificates: str
    erased: bool
    erased_at: datetime | None


class PrivacySettingsOut(msgspec.Struct):
    erasure_certificates: str


class PrivacySettingsIn(msgspec.Struct):
    erasure_certificates: Literal["revoke", "keep"]
