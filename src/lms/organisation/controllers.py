"""Tenant administration JSON API under /api/v1/admin (tenant admins only)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings
from lms.identity.accounts.services.directory import UserDirectory
from lms.lib.params import AppRequest
from lms.organisation.guards import requires_tenant_admin
from lms.organisation.schemas import (
    CertificateSummary,
    ChecklistItemOut,
    ChecklistOut,
    EnrollmentSummary,
    PersonOut,
    SignInOut,
)
from lms.organisation.services.checklist import Checklist, setup_checklist
from lms.organisation.services.people import PersonOverview, person_overview
from lms.tenancy.schemas import ResolvedTenant


def checklist_out(checklist: Checklist) -> ChecklistOut:
    return ChecklistOut(
        items=[ChecklistItemOut(key=i.key, done=i.done, detail=dict(i.detail)) for i in checklist.items],
        done=checklist.done,
        total=len(checklist.items),
        complete=checklist.complete,
    )


class AdminSetupController(Controller):
    path = "/api/v1/admin"
    guards = [requires_tenant_admin]
    tags = ["organisation"]

    @get("/setup")
    async def setup(
        self, db_session: NamedDependency[AsyncSession], tenant: NamedDependency[ResolvedTenant]
    ) -> ChecklistOut:
        """The setup checklist: branding, custom domain, single sign-on, people, first course (each from real state)."""
        return checklist_out(await setup_checklist(db_session, tenant.id))


def site_url(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def provide_directory(
    request: AppRequest,
    db_session: NamedDependency[AsyncSession],
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
) -> UserDirectory:
    return UserDirectory(db_session, tenant.id, settings, site_url(request))


ORGANISATION_SERVICES = {"directory": Provide(provide_directory, sync_to_thread=False)}


def person_out(person: PersonOverview) -> PersonOut:
    return PersonOut(
        user=person.user,
        manager=person.manager,
        enrollments=[
            EnrollmentSummary(
                course_id=e.course_id,
                course_title=e.course_title,
                status=e.status.value,
                completion_pct=float(e.completion_pct),
                enrolled_at=e.enrolled_at,
                due_at=e.due_at,
                completed_at=e.completed_at,
            )
            for e in person.enrollments
        ],
        certificates=[
            CertificateSummary(
                id=c.id,
                course_id=c.course_id,
                course_title=c.course_title,
                issued_at=c.issued_at,
                expires_at=c.expires_at,
                state=c.state,
            )
            for c in person.certificates
        ],
        sign_ins=[
            SignInOut(
                started_at=s.started_at, last_active_at=s.last_active_at, single_sign_on=s.single_sign_on, ended=s.ended
            )
            for s in person.sign_ins
        ],
    )


class AdminPeopleController(Controller):
    path = "/api/v1/admin/users"
    guards = [requires_tenant_admin]
    dependencies = ORGANISATION_SERVICES
    tags = ["organisation"]

    @get("/{user_id:uuid}/overview")
    async def overview(self, directory: NamedDependency[UserDirectory], user_id: FromPath[UUID]) -> PersonOut:
        """One user with their manager, enrolments and progress, certificates and latest sign-ins."""
        return person_out(await person_overview(directory, user_id))
