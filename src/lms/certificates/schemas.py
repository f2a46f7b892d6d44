"""Request and response bodies of the certificates API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=500)]
PersonName = Annotated[str, msgspec.Meta(max_length=200)]
# Signature images are inlined into the PDF, never fetched: a PNG, JPEG or SVG data URL up to ~200 KB.
SignatureImage = Annotated[
    str, msgspec.Meta(pattern=r"^data:image/(png|jpeg|svg\+xml);base64,[A-Za-z0-9+/=]+$", max_length=270_000)
]
Paper = Annotated[str, msgspec.Meta(pattern=r"^(A4|Letter)$")]
ValidDays = Annotated[int, msgspec.Meta(ge=1, le=3650)]
RemindDays = Annotated[int, msgspec.Meta(ge=0, le=365)]


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class PolicyIn(msgspec.Struct, forbid_unknown_fields=True):
    valid_days: ValidDays | None = None
    compliance: bool = False
    remind_days_before: RemindDays = 30


class PolicyOut(msgspec.Struct):
    course_id: UUID
    valid_days: int | None
    compliance: bool
    remind_days_before: int


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    signatory_name: PersonName = ""
    signatory_title: PersonName = ""
    signature_image: SignatureImage | None = None
    paper: Paper = "A4"


class SettingsOut(msgspec.Struct):
    signatory_name: str
    signatory_title: str
    has_signature_image: bool
    paper: str


class CertificateOut(msgspec.Struct):
    """A certificate with its links: the PDF (short-lived signed link), credential, verification, LinkedIn."""

    id: UUID
    user_id: UUID
    course_id: UUID
    enrollment_id: UUID
    learner_name: str
    course_title: str
    issued_at: datetime
    expires_at: datetime | None
    status: str
    revoked_reason: str | None
    superseded_by: UUID | None
    verify_url: str
    pdf_ready: bool
    download_url: str | None
    credential_url: str
    linkedin_url: str


class VerificationOut(msgspec.Struct):
    """What anyone may learn about a certificate from its id."""

    cert_id: UUID
    status: str
    signature_valid: bool
    learner_name: str
    course: str
    tenant: str
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    superseded_by: UUID | None
    superseded_by_url: str | None


JsonObject = dict[str, Any]
