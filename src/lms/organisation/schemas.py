"""Organisation shapes on the wire: the setup checklist, the admin user list and bulk imports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
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


class ImportProblemOut(msgspec.Struct):
    row: int
    column: str
    reason: str


class ImportOut(msgspec.Struct):
    id: UUID
    file_name: str
    status: str
    progress: int
    headers: list[str]
    mapping: dict[str, str]
    deactivate_missing: bool
    send_invitations: bool
    total_rows: int
    result: dict[str, Any]
    error_count: int
    problems: list[ImportProblemOut]
    failure: str | None
    created_at: datetime
    previewed_at: datetime | None
    applied_at: datetime | None


ImportField = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(email|display_name|external_id|roles|groups|manager_email|locale|attr:[a-z][a-z0-9_]{0,62})$",
        description="a field of the import, or attr:<name> to keep the column as a custom attribute",
    ),
]
HeaderName = Annotated[str, msgspec.Meta(max_length=200)]


class ImportSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Which column of the file holds each field (email and display_name are required)."""

    mapping: dict[ImportField, HeaderName]
    deactivate_missing: bool = False
    send_invitations: bool = False


class TeamEnrollmentOut(msgspec.Struct):
    course_id: UUID
    course_title: str
    status: str
    completion_pct: float
    due_at: datetime | None
    overdue: bool
    # The compliance report's state: assigned (not started), in_progress, completed, overdue or expired;
    # null for an enrolment that is no training owed (refunded).
    state: str | None


class TeamMemberOut(msgspec.Struct):
    id: UUID
    display_name: str
    email: str
    manager_id: UUID
    # 1 = reports to you directly, 2 = to one of your reports, ...
    depth: int
    # Enrolments per state; each enrolment counts once (an overdue one is not also in progress).
    completed: int
    in_progress: int
    overdue: int
    not_started: int
    expired: int
    enrollments: list[TeamEnrollmentOut]


class TeamOut(msgspec.Struct):
    members: list[TeamMemberOut]
    overdue: int


GroupName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
AttributeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class GroupCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A group; with `rule_attribute` and `rule_value` its members are exactly the people whose custom
    attribute has that value (kept up to date after imports)."""

    name: GroupName
    parent_id: UUID | None = None
    rule_attribute: AttributeName | None = None
    rule_value: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class GroupOut(msgspec.Struct):
    id: UUID
    name: str
    parent_id: UUID | None
    rule_attribute: str | None
    rule_value: str | None
    members: int
    depth: int
