"""Organisation shapes on the wire: the setup checklist, the admin user list and bulk imports."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from lms.identity.schemas import UserOut


class ChecklistItemOut(msgspec.Struct):
    key: str
    done: bool
    detail: dict[str, int | str | None]


class ChecklistOut(msgspec.Struct):
    items: list[ChecklistItemOut]
    done: int
    total: int
    complete: bool


class EnrollmentSummary(msgspec.Struct):
    course_id: UUID
    course_title: str
    status: str
    completion_pct: float
    enrolled_at: datetime
    due_at: datetime | None
    completed_at: datetime | None


class CertificateSummary(msgspec.Struct):
    id: UUID
    course_id: UUID
    course_title: str
    issued_at: datetime
    expires_at: datetime | None
    state: str


class SignInOut(msgspec.Struct):
    started_at: datetime
    last_active_at: datetime
    single_sign_on: bool
    ended: bool


class PersonOut(msgspec.Struct):
    user: UserOut
    manager: UserOut | None
    enrollments: list[EnrollmentSummary]
    certificates: list[CertificateSummary]
    sign_ins: list[SignInOut]
