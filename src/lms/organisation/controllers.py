"""Tenant administration JSON API under /api/v1/admin (tenant admins only)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from lms.compliance.schemas import ComplianceState
from lms.config import Settings
from lms.db.providers import DbSession
from lms.identity.accounts.services.directory import UserDirectory, UserFilters
from lms.identity.guards import Principal, requires_user
from lms.identity.schemas import Role, UserStatus
from lms.lib.errors import Conflict, ValidationFailed
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.lib.storage import Storage, storage_for
from lms.organisation.guards import requires_tenant_admin
from lms.organisation.models import UserImport
from lms.organisation.schemas import (
    CertificateSummary,
    ChecklistItemOut,
    ChecklistOut,
    EnrollmentSummary,
    GroupCreate,
    GroupOut,
    ImportOut,
    ImportProblemOut,
    ImportSettings,
    PersonOut,
    SignInOut,
    TeamEnrollmentOut,
    TeamMemberOut,
    TeamOut,
)
from lms.organisation.services.checklist import Checklist, setup_checklist
from lms.organisation.services.groups import Groups, GroupView
from lms.organisation.services.imports import MAX_FILE_BYTES, UserImports, export_users_csv
from lms.organisation.services.people import PersonOverview, person_overview
from lms.organisation.services.team import Team, team_of
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit


class SeatLimitReached(Conflict):
    code = "seat_limit_reached"


GroupText = Annotated[str, msgspec.Meta(max_length=200)]


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
    async def setup(self, db_session: DbSession, tenant: NamedDependency[ResolvedTenant]) -> ChecklistOut:
        """The setup checklist: branding, custom domain, single sign-on, people, first course (each from real state)."""
        return checklist_out(await setup_checklist(db_session, tenant.id))


def site_url(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def provide_directory(
    request: AppRequest,
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
    audit: NamedDependency[AdminAudit],
) -> UserDirectory:
    """The user directory for administrators: every change they make is written to the audit log."""
    return UserDirectory(db_session, tenant.id, settings, site_url(request), audit)


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


def provide_storage(request: AppRequest, settings: NamedDependency[Settings]) -> Storage:
    """One storage client per app, built on first use from STORAGE_URL."""
    state = request.app.state
    if getattr(state, "import_storage", None) is None:
        state.import_storage = storage_for(settings)
    storage: Storage = state.import_storage
    return storage


def provide_imports(
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
    storage: NamedDependency[Storage],
    audit: NamedDependency[AdminAudit],
) -> UserImports:
    return UserImports(db_session, tenant.id, settings, storage, audit)


IMPORT_SERVICES = {
    **ORGANISATION_SERVICES,
    "storage": Provide(provide_storage, sync_to_thread=False),
    "imports": Provide(provide_imports, sync_to_thread=False),
}


def import_out(record: UserImport) -> ImportOut:
    return ImportOut(
        id=record.id,
        file_name=record.file_name,
        status=record.status,
        progress=record.progress,
        headers=list(record.headers),
        mapping=dict(record.mapping),
        deactivate_missing=record.deactivate_missing,
        send_invitations=record.send_invitations,
        total_rows=record.total_rows,
        result=dict(record.result),
        error_count=record.error_count,
        problems=[ImportProblemOut(row=p["row"], column=p["column"], reason=p["reason"]) for p in record.problems],
        failure=record.failure,
        created_at=record.created_at,
        previewed_at=record.previewed_at,
        applied_at=record.applied_at,
    )


async def uploaded_file(request: AppRequest) -> UploadFile:
    form = await request.form()
    item = form.get("file")
    if not isinstance(item, UploadFile):
        raise ValidationFailed("attach the CSV file as the form field `file`", field="file")
    return item


def file_size(upload: UploadFile) -> int:
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    return size


class UserImportController(Controller):
    path = "/api/v1/admin/imports"
    guards = [requires_tenant_admin]
    dependencies = IMPORT_SERVICES
    tags = ["organisation"]

    @post("/", status_code=HTTP_201_CREATED, request_max_body_size=MAX_FILE_BYTES + 65536)
    async def upload(
        self, request: AppRequest, imports: NamedDependency[UserImports], principal: NamedDependency[Principal]
    ) -> ImportOut:
        """multipart/form-data with the CSV as `file` (UTF-8, comma or semicolon separated, a header row);
        the answer carries the file's columns and a suggested mapping."""
        upload = await uploaded_file(request)
        size = await anyio.to_thread.run_sync(file_size, upload)
        record = await imports.upload(upload.filename or "users.csv", upload.file, size, principal.user_id)
        return import_out(record)

    @get("/")
    async def list_imports(
        self, imports: NamedDependency[UserImports], page: NamedDependency[PageParams]
    ) -> Page[ImportOut]:
        """Imports of this site, newest first."""
        found = await imports.list(page)
        return page.of([import_out(r) for r in found.items], found.total)

    @get("/{import_id:uuid}")
    async def get_import(self, imports: NamedDependency[UserImports], import_id: FromPath[UUID]) -> ImportOut:
        """One import: status, progress (percent), the outcome and the first row problems."""
        return import_out(await imports.get(import_id))

    @put("/{import_id:uuid}/settings")
    async def configure(
        self, imports: NamedDependency[UserImports], import_id: FromPath[UUID], data: JSONBody[ImportSettings]
    ) -> ImportOut:
        """Set the column mapping and options; a preview made before is discarded."""
        mapping = {str(k): v for k, v in data.mapping.items()}
        return import_out(await imports.configure(import_id, mapping, data.deactivate_missing, data.send_invitations))

    @post(
        "/{import_id:uuid}/preview",
        status_code=HTTP_200_OK,
        responses={202: ResponseSpec(ImportOut, description="A large file: the preview runs in the background.")},
    )
    async def preview(
        self, imports: NamedDependency[UserImports], principal: NamedDependency[Principal], import_id: FromPath[UUID]
    ) -> Response[ImportOut]:
        """Dry run: what would be created, updated and deactivated, and every row problem. Nothing changes."""
        record = await imports.start(import_id, principal.user_id, apply=False)
        return Response(import_out(record), status_code=HTTP_202_ACCEPTED if record.progress < 100 else HTTP_200_OK)

    @post(
        "/{import_id:uuid}/apply",
        status_code=HTTP_200_OK,
        responses={202: ResponseSpec(ImportOut, description="A large file: the import runs in the background.")},
    )
    async def apply(
        self, imports: NamedDependency[UserImports], principal: NamedDependency[Principal], import_id: FromPath[UUID]
    ) -> Response[ImportOut]:
        """Apply a previewed import: valid rows are written, rows with problems are skipped (see the report).
        Refused with nothing written when it would need more seats than the site has."""
        record = await imports.start(import_id, principal.user_id, apply=True)
        if record.result.get("over_seats"):
            # The import row keeps the refusal (committed); nothing else was written.
            await imports.session.commit()
            raise SeatLimitReached(record.failure or "not enough seats", field="seats")
        return Response(import_out(record), status_code=HTTP_202_ACCEPTED if record.progress < 100 else HTTP_200_OK)

    @get("/{import_id:uuid}/problems.csv", media_type="text/csv")
    async def problems(self, imports: NamedDependency[UserImports], import_id: FromPath[UUID]) -> Response[bytes]:
        """Every row problem of the last preview or apply: row, column, reason."""
        data = await imports.problem_report(import_id)
        return Response(
            data,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}-problems.csv"'},
        )


class UserExportController(Controller):
    path = "/api/v1/admin/users/export.csv"
    guards = [requires_tenant_admin]
    dependencies = ORGANISATION_SERVICES
    tags = ["organisation"]

    @get("/", media_type="text/csv")
    async def export(
        self,
        directory: NamedDependency[UserDirectory],
        status: FromQuery[UserStatus | None] = None,
        role: FromQuery[Role | None] = None,
        group: FromQuery[GroupText | None] = None,
    ) -> Response[str]:
        """Users as CSV with the import's columns (re-importable); cells that a spreadsheet would read as
        a formula (starting with = + - @) are prefixed with an apostrophe."""
        body = await export_users_csv(directory, UserFilters(status=status, role=role, group=group))
        return Response(
            body, media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="users.csv"'}
        )


def team_out(team: Team) -> TeamOut:
    members = []
    for m in team.members:
        members.append(
            TeamMemberOut(
                id=m.person.id,
                display_name=m.person.display_name,
                email=m.person.email,
                manager_id=m.person.manager_id,
                depth=m.person.depth,
                completed=m.completed,
                in_progress=m.in_progress,
                overdue=len(m.overdue),
                not_started=m.not_started,
                expired=m.expired,
                enrollments=[
                    TeamEnrollmentOut(
                        course_id=e.course_id,
                        course_title=e.course_title,
                        status=e.status.value,
                        completion_pct=float(e.completion_pct),
                        due_at=e.due_at,
                        overdue=state is ComplianceState.OVERDUE,
                        state=state.value if state else None,
                    )
                    for e, state in zip(m.enrollments, m.states, strict=True)
                ],
            )
        )
    return TeamOut(members=members, overdue=team.overdue_count)


class TeamController(Controller):
    path = "/api/v1/team"
    guards = [requires_user]
    tags = ["organisation"]

    @get("/")
    async def team(self, db_session: DbSession, principal: NamedDependency[Principal]) -> TeamOut:
        """Your direct and indirect reports with their progress and overdue training (empty without reports)."""
        return team_out(await team_of(db_session, principal.user_id))


def provide_groups(db_session: DbSession, tenant: NamedDependency[ResolvedTenant]) -> Groups:
    return Groups(db_session, tenant.id)


GROUP_SERVICES = {"groups": Provide(provide_groups, sync_to_thread=False)}


def group_out(view: GroupView) -> GroupOut:
    g = view.group
    return GroupOut(
        id=g.id,
        name=g.name,
        parent_id=g.parent_id,
        rule_attribute=g.rule_attribute,
        rule_value=g.rule_value,
        members=view.members,
        depth=view.depth,
    )


class GroupController(Controller):
    path = "/api/v1/admin/groups"
    guards = [requires_tenant_admin]
    dependencies = GROUP_SERVICES
    tags = ["organisation"]

    @get("/")
    async def list_groups(self, groups: NamedDependency[Groups], page: NamedDependency[PageParams]) -> Page[GroupOut]:
        """Groups as a tree (parents first, `depth` 0 for top-level groups) with member counts."""
        tree = await groups.tree()
        return page.of([group_out(v) for v in tree[page.offset : page.offset + page.limit]], len(tree))

    @post("/", status_code=HTTP_201_CREATED)
    async def create_group(self, groups: NamedDependency[Groups], data: JSONBody[GroupCreate]) -> GroupOut:
        """A group, nested under `parent_id` if given; with a rule its members are set from people's attributes."""
        group = await groups.create(data.name, data.parent_id, data.rule_attribute, data.rule_value)
        view = next(v for v in await groups.tree() if v.group.id == group.id)
        return group_out(view)

    @put("/{group_id:uuid}")
    async def update_group(
        self, groups: NamedDependency[Groups], group_id: FromPath[UUID], data: JSONBody[GroupCreate]
    ) -> GroupOut:
        """Rename, move (`parent_id`) or change the rule of a group; its members follow a rename. A group
        cannot move inside itself or one of its subgroups (422, `field: parent_id`)."""
        group = await groups.update(group_id, data.name, data.parent_id, data.rule_attribute, data.rule_value)
        view = next(v for v in await groups.tree() if v.group.id == group.id)
        return group_out(view)

    @delete("/{group_id:uuid}", status_code=HTTP_200_OK)
    async def delete_group(self, groups: NamedDependency[Groups], group_id: FromPath[UUID]) -> dict[str, str]:
        """Delete a group: its members leave it, its subgroups move up, training assigned to it ends
        (enrolments stay)."""
        await groups.delete(group_id)
        return {"status": "deleted"}
