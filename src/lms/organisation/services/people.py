"""A person as the admin console shows them: the account, their manager, enrolments with progress,
certificates and sign-in history (each read through its own domain's queries)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from lms.certificates.queries import UserCertificate, certificates_of_user
from lms.compliance.schemas import ComplianceState
from lms.compliance.services.report import states_of
from lms.identity.accounts.services.directory import SignInEntry, UserDirectory, user_out
from lms.identity.schemas import UserOut
from lms.learning.queries import UserEnrollment, enrollments_of_user
from lms.lib import clock


@dataclass(frozen=True)
class PersonOverview:
    user: UserOut
    manager: UserOut | None
    enrollments: list[UserEnrollment]
    # The compliance report's state of each enrolment (None: refunded, no training owed).
    states: list[ComplianceState | None]
    certificates: list[UserCertificate]
    sign_ins: list[SignInEntry]


async def person_overview(directory: UserDirectory, user_id: UUID) -> PersonOverview:
    user = await directory.get(user_id)
    managers = await directory.managers({user.manager_id} if user.manager_id else set())
    manager = managers.get(user.manager_id) if user.manager_id else None
    session = directory.session
    enrollments = await enrollments_of_user(session, user.id)
    return PersonOverview(
        user=user_out(user),
        manager=user_out(manager) if manager is not None else None,
        enrollments=enrollments,
        states=await states_of(session, [(user.id, e) for e in enrollments], clock.now()),
        certificates=await certificates_of_user(session, user.id),
        sign_ins=await directory.sign_in_history(user.id),
    )
