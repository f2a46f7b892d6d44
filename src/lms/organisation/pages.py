"""The tenant admin console: its navigation section, the setup checklist and the people pages
(HTML over the same services as the JSON API)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.db.providers import DbSession
from lms.identity.accounts.services.directory import SignedIn, UserDirectory, UserFilters, UserSort, user_out
from lms.identity.guards import Principal, requires_user
from lms.identity.schemas import Role, UserCreate, UserStatus, UserUpdate
from lms.lib.errors import DomainError, ValidationFailed
from lms.lib.pagination import PageParams
from lms.lib.params import AppRequest, Limit, Offset
from lms.organisation.controllers import GROUP_SERVICES, IMPORT_SERVICES, ORGANISATION_SERVICES, file_size
from lms.organisation.guards import requires_tenant_admin
from lms.organisation.services.checklist import setup_checklist
from lms.organisation.services.csv_rows import ATTRIBUTE_PREFIX, attribute_name, check_mapping
from lms.organisation.services.groups import Groups
from lms.organisation.services.imports import MAX_FILE_BYTES, UserImports
from lms.organisation.services.people import person_overview
from lms.organisation.services.team import team_of
from lms.tenancy.schemas import ResolvedTenant
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import admin_sections, before_page, page

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


def _group_fields(form: FormData) -> tuple[dict[str, str], UUID | None]:
    """The group form's fields and its parent, with the problems in `form.errors`."""
    name = form.text("name", 200, required=_("Enter a name for the group."))
    parent = form.text("parent_id", 36)
    attribute = form.text("rule_attribute", 63).lower()
    value = form.text("rule_value", 200)
    values = {"name": name, "parent_id": parent, "rule_attribute": attribute, "rule_value": value}
    parent_id: UUID | None = None
    if parent:
        try:
            parent_id = UUID(parent)
        except ValueError:
            form.errors["parent_id"] = _("Choose a group from the list.")
    if bool(attribute) != bool(value):
        form.errors["rule_value" if attribute else "rule_attribute"] = _("A rule needs both an attribute and a value.")
    if attribute and not re.match(r"^[a-z][a-z0-9_]{0,62}$", attribute):
        form.errors["rule_attribute"] = _("Use lower-case letters, digits and _ (for example department).")
    return values, parent_id


def role_names() -> dict[str, str]:
    return {
        Role.LEARNER.value: _("Learner"),
        Role.INSTRUCTOR.value: _("Instructor"),
        Role.TENANT_ADMIN.value: _("Administrator"),
    }


def status_names() -> dict[str, str]:
    return {
        UserStatus.ACTIVE.value: _("Active"),
        UserStatus.INVITED.value: _("Invited"),
        UserStatus.DEACTIVATED.value: _("Deactivated"),
    }


def enrollment_status_names() -> dict[str, str]:
    return {
        "active": _("Active"),
        "assigned": _("Not started"),
        "in_progress": _("In progress"),
        "completed": _("Completed"),
        "expired": _("Expired"),
        "refunded": _("Refunded"),
        "overdue": _("Overdue"),
    }


def _enum(kind: Any, raw: str) -> Any:
    try:
        return kind(raw) if raw else None
    except ValueError:
        return None


class AdminPagesController(Controller):
    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    dependencies = ORGANISATION_SERVICES
    include_in_schema = False

    @get("/admin")
    async def setup(
        self, request: AppRequest, db_session: DbSession, tenant: NamedDependency[ResolvedTenant]
    ) -> Template:
        """The first page a tenant admin sees: what is set up and a link to do the rest."""
        checklist = await setup_checklist(db_session, tenant.id)
        return page(
            request,
            "admin/setup.html",
            checklist=checklist,
            items={item.key: item for item in checklist.items},
            sections=admin_sections(),
        )

    @get("/admin/users")
    async def users(
        self,
        request: AppRequest,
        directory: NamedDependency[UserDirectory],
        q: FromQuery[str] = "",
        role: FromQuery[str] = "",
        status: FromQuery[str] = "",
        group: FromQuery[str] = "",
        manager: FromQuery[str] = "",
        signed_in: FromQuery[str] = "",
        sort: FromQuery[str] = "created",
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[Offset] = 0,
    ) -> Template:
        """Filter bar above a dense table; each row links to the person's page."""
        q, group, manager = q.strip()[:200], group[:200], manager.strip()[:320]
        manager_id: UUID | None = None
        unknown_manager = False
        if manager:
            found = await directory.find_by_email(manager)
            manager_id = found.id if found is not None else None
            unknown_manager = found is None
        filters = UserFilters(
            status=_enum(UserStatus, status),
            role=_enum(Role, role),
            q=q or None,
            group=group or None,
            manager_id=manager_id,
            signed_in=_enum(SignedIn, signed_in),
            sort=_enum(UserSort, sort) or UserSort.CREATED,
        )
        users, total = ([], 0) if unknown_manager else await directory.search(filters, limit, offset)
        managers = await directory.managers({u.manager_id for u in users if u.manager_id})
        query = {
            "q": q,
            "role": role,
            "status": status,
            "group": group,
            "manager": manager,
            "signed_in": signed_in,
            "sort": filters.sort.value,
        }
        base = "/admin/users?" + urlencode({k: v for k, v in query.items() if v}) + "&"
        return page(
            request,
            "admin/users.html",
            sections=admin_sections(),
            users=[user_out(u) for u in users],
            manager_names={str(k): v.display_name for k, v in managers.items()},
            total=total,
            limit=limit,
            offset=offset,
            base=base,
            filters=query,
            group_options=[(g, g) for g in await directory.groups_in_use()],
            role_names=role_names(),
            status_names=status_names(),
            unknown_manager=unknown_manager,
        )

    @get("/admin/users/new")
    async def new_user(self, request: AppRequest) -> Template:
        return self._invite_form(request, FormErrors(), {"roles": ["learner"], "send_invitation": True})

    def _invite_form(
        self, request: Request[Any, Any, Any], errors: FormErrors, values: dict[str, Any], status: int = 200
    ) -> Template:
        return page(
            request,
            "admin/user_new.html",
            status_code=status,
            sections=admin_sections(),
            errors=errors,
            values=values,
            role_names=role_names(),
        )

    @post("/admin/users/new", status_code=HTTP_200_OK)
    async def invite(self, request: AppRequest, directory: NamedDependency[UserDirectory]) -> Template | Redirect:
        """Invite one person: the account is created and the invitation e-mail queued."""
        form = await FormData.read(request)
        raw = await request.form()
        email = form.text("email", 320, required=_("Enter an e-mail address."))
        name = form.text("display_name", 200, required=_("Enter the person's name."))
        roles = [r for r in raw.getall("roles") if isinstance(r, str) and r in role_names()] if "roles" in raw else []
        invite = form.fields.get("send_invitation") == "on"
        values = {"email": email, "display_name": name, "roles": roles, "send_invitation": invite}
        if email and not re.match(EMAIL_PATTERN, email):
            form.errors["email"] = _("Enter an e-mail address in the right format, like name@example.com.")
        if not roles:
            form.errors["roles"] = _("Choose at least one role.")
        if form.errors:
            return self._invite_form(request, form.errors, values, 422)
        data = UserCreate(email=email, display_name=name, roles=[Role(r) for r in roles], send_invitation=invite)
        try:
            user = await directory.create(data)
        except DomainError as exc:
            form.errors[exc.field if exc.field in ("email", "display_name") else "email"] = service_message(exc)
            return self._invite_form(request, form.errors, values, exc.status)
        return Redirect(f"/admin/users/{user.id}?done={'invited' if invite else 'created'}", status_code=303)

    async def _person(
        self,
        request: Request[Any, Any, Any],
        directory: UserDirectory,
        user_id: UUID,
        *,
        errors: FormErrors | None = None,
        flash: str | None = None,
        status: int = 200,
    ) -> Template:
        person = await person_overview(directory, user_id)
        return page(
            request,
            "admin/user.html",
            status_code=status,
            sections=admin_sections(),
            person=person,
            errors=errors or FormErrors(),
            flash=flash,
            role_names=role_names(),
            status_names=status_names(),
            enrollment_status_names=enrollment_status_names(),
            certificate_state_names={"revoked": _("Revoked"), "superseded": _("Superseded")},
        )

    @get("/admin/users/{user_id:uuid}")
    async def person(
        self,
        request: AppRequest,
        directory: NamedDependency[UserDirectory],
        user_id: FromPath[UUID],
        done: FromQuery[str] = "",
    ) -> Template:
        """A person: account, roles, status actions, enrolments with progress, certificates, sign-ins."""
        messages = {
            "invited": _("The invitation is on its way."),
            "created": _("The account is created."),
            "roles": _("Roles are saved."),
            "groups": _("Groups are saved."),
            "deactivated": _("The account is deactivated. Its sessions have ended."),
            "reactivated": _("The account is active again."),
            "invitation": _("A new invitation is on its way."),
            "mfa": _("Two-step sign-in is reset. The person sets it up again at their next sign-in."),
        }
        return await self._person(request, directory, user_id, flash=messages.get(done[:20]))

    @post("/admin/users/{user_id:uuid}/roles", status_code=HTTP_200_OK)
    async def save_roles(
        self,
        request: AppRequest,
        directory: NamedDependency[UserDirectory],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
    ) -> Template | Redirect:
        raw = await request.form()
        roles = [r for r in raw.getall("roles") if isinstance(r, str) and r in role_names()] if "roles" in raw else []
        errors = FormErrors()
        if not roles:
            errors["roles"] = _("Choose at least one role.")
            return await self._person(request, directory, user_id, errors=errors, status=422)
        try:
            await directory.update(user_id, UserUpdate(roles=[Role(r) for r in roles]), principal.user_id)
        except DomainError as exc:
            errors["roles"] = service_message(exc)
            return await self._person(request, directory, user_id, errors=errors, status=exc.status)
        return Redirect(f"/admin/users/{user_id}?done=roles", status_code=303)

    @post("/admin/users/{user_id:uuid}/groups", status_code=HTTP_200_OK)
    async def save_groups(
        self,
        request: AppRequest,
        directory: NamedDependency[UserDirectory],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Membership by hand: the person's groups, separated by commas or semicolons."""
        form = await FormData.read(request)
        raw = form.text("groups", 4000)
        names = sorted({g.strip() for g in re.split(r"[;,]", raw) if g.strip()})
        if any(len(g) > 200 for g in names):
            form.errors["groups"] = _("A group name may have at most 200 characters.")
        if form.errors:
            return await self._person(request, directory, user_id, errors=form.errors, status=422)
        await directory.update(user_id, UserUpdate(groups=names), principal.user_id)
        return Redirect(f"/admin/users/{user_id}?done=groups", status_code=303)

    @post("/admin/users/{user_id:uuid}/{action:str}", status_code=HTTP_200_OK)
    async def account_action(
        self,
        request: AppRequest,
        directory: NamedDependency[UserDirectory],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
        action: FromPath[str],
    ) -> Template | Redirect:
        """Deactivate, reactivate, resend the invitation or reset two-step sign-in."""
        try:
            if action == "deactivate":
                await directory.deactivate(user_id, principal.user_id)
                done = "deactivated"
            elif action == "reactivate":
                await directory.reactivate(user_id)
                done = "reactivated"
            elif action == "invitation":
                await directory.send_invitation(await directory.get(user_id))
                done = "invitation"
            elif action == "mfa-reset":
                await directory.reset_mfa(user_id)
                done = "mfa"
            else:
                return await self._person(
                    request, directory, user_id, errors=FormErrors(action=_("This action does not exist.")), status=404
                )
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors = FormErrors(action=service_message(exc))
            return await self._person(request, directory, user_id, errors=errors, status=exc.status)
        return Redirect(f"/admin/users/{user_id}?done={done}", status_code=303)


def field_labels() -> dict[str, str]:
    return {
        "email": _("E-mail address"),
        "display_name": _("Name"),
        "external_id": _("External id"),
        "roles": _("Roles"),
        "groups": _("Groups"),
        "manager_email": _("Manager's e-mail"),
        "locale": _("Language"),
    }


RUNNING = ("previewing", "applying")


class ImportPagesController(Controller):
    """Upload, map the columns, check the preview, apply: GOV.UK's "check your answers" before writing."""

    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    dependencies = IMPORT_SERVICES
    include_in_schema = False

    @get("/admin/users/import")
    async def start_page(self, request: AppRequest, imports: NamedDependency[UserImports]) -> Template:
        return await self._start(request, imports, FormErrors())

    async def _start(
        self, request: Request[Any, Any, Any], imports: UserImports, errors: FormErrors, status: int = 200
    ) -> Template:
        recent = await imports.list(PageParams(limit=10, offset=0))
        return page(
            request,
            "admin/import_start.html",
            status_code=status,
            sections=admin_sections(),
            errors=errors,
            recent=recent.items,
            status_names=import_status_names(),
        )

    @post("/admin/users/import", status_code=HTTP_200_OK, request_max_body_size=MAX_FILE_BYTES + 65536)
    async def upload(
        self, request: AppRequest, imports: NamedDependency[UserImports], principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await request.form()
        item = form.get("file")
        errors = FormErrors()
        if not isinstance(item, UploadFile) or not item.filename:
            errors["file"] = _("Choose a CSV file to upload.")
            return await self._start(request, imports, errors, 422)
        size = await anyio.to_thread.run_sync(file_size, item)
        try:
            record = await imports.upload(item.filename, item.file, size, principal.user_id)
        except DomainError as exc:
            errors["file"] = service_message(exc)
            return await self._start(request, imports, errors, exc.status)
        return Redirect(f"/admin/imports/{record.id}", status_code=303)

    async def _import(
        self,
        request: Request[Any, Any, Any],
        record: Any,
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        return page(
            request,
            "admin/import.html",
            status_code=status,
            sections=admin_sections(),
            record=record,
            errors=errors or FormErrors(),
            labels=field_labels(),
            header_options=[(h, h) for h in record.headers],
            kept_attributes={v for k, v in record.mapping.items() if k.startswith(ATTRIBUTE_PREFIX)},
            running=record.status in RUNNING,
            status_names=import_status_names(),
        )

    @get("/admin/imports/{import_id:uuid}")
    async def show(
        self, request: AppRequest, imports: NamedDependency[UserImports], import_id: FromPath[UUID]
    ) -> Template:
        """Mapping and options, then the preview with every row problem, then the outcome."""
        return await self._import(request, await imports.get(import_id))

    @get("/admin/imports/{import_id:uuid}/progress")
    async def progress(
        self, request: AppRequest, imports: NamedDependency[UserImports], import_id: FromPath[UUID]
    ) -> Template | Redirect:
        """The progress bar htmx polls; once the job is done the whole page is shown again."""
        record = await imports.get(import_id)
        if record.status not in RUNNING:
            return Redirect(
                f"/admin/imports/{import_id}", status_code=303, headers={"HX-Redirect": f"/admin/imports/{import_id}"}
            )
        return page(request, "admin/_import_progress.html", record=record)

    @post("/admin/imports/{import_id:uuid}/preview", status_code=HTTP_200_OK)
    async def preview(
        self,
        request: AppRequest,
        imports: NamedDependency[UserImports],
        principal: NamedDependency[Principal],
        import_id: FromPath[UUID],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        record = await imports.get(import_id)
        mapping = {name: form.text(f"map_{name}", 200) for name in field_labels()}
        for index, header in enumerate(record.headers):
            if form.fields.get(f"keep_{index}") == "on" and header not in mapping.values():
                mapping[ATTRIBUTE_PREFIX + attribute_name(header)] = header
        errors = FormErrors()
        for name, message in check_mapping({k: v for k, v in mapping.items() if v}, list(record.headers)).items():
            errors[f"map_{name}"] = (
                _("Choose the column that holds this.")
                if "choose" in message
                else service_message(ValidationFailed(message))
            )
        if errors or form.errors:
            errors.update(form.errors)
            return await self._import(request, record, errors, 422)
        try:
            await imports.configure(
                import_id,
                mapping,
                form.fields.get("deactivate_missing") == "on",
                form.fields.get("send_invitations") == "on",
            )
            await imports.start(import_id, principal.user_id, apply=False)
        except DomainError as exc:
            errors["status"] = service_message(exc)
            return await self._import(request, await imports.get(import_id), errors, exc.status)
        return Redirect(f"/admin/imports/{import_id}", status_code=303)

    @post("/admin/imports/{import_id:uuid}/apply", status_code=HTTP_200_OK)
    async def apply(
        self,
        request: AppRequest,
        imports: NamedDependency[UserImports],
        principal: NamedDependency[Principal],
        import_id: FromPath[UUID],
    ) -> Template | Redirect:
        try:
            await imports.start(import_id, principal.user_id, apply=True)
        except DomainError as exc:
            errors = FormErrors(status=service_message(exc))
            return await self._import(request, await imports.get(import_id), errors, exc.status)
        return Redirect(f"/admin/imports/{import_id}", status_code=303)

    @get("/admin/imports/{import_id:uuid}/problems.csv", media_type="text/csv")
    async def problems(self, imports: NamedDependency[UserImports], import_id: FromPath[UUID]) -> Response[bytes]:
        data = await imports.problem_report(import_id)
        return Response(
            data,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}-problems.csv"'},
        )


def import_status_names() -> dict[str, str]:
    return {
        "uploaded": _("Uploaded"),
        "previewing": _("Checking"),
        "previewed": _("Checked"),
        "applying": _("Importing"),
        "applied": _("Imported"),
        "failed": _("Failed"),
    }


class TeamPagesController(Controller):
    """A manager's team: everyone in their line, progress, and what is overdue first."""

    before_request = staticmethod(before_page)
    guards = [requires_user]
    include_in_schema = False

    @get("/team")
    async def team(self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]) -> Template:
        team = await team_of(db_session, principal.user_id)
        return page(request, "organisation/team.html", team=team)


class GroupPagesController(Controller):
    """Groups as a tree with member counts, and a form to add one (nested, optionally with a rule)."""

    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    dependencies = GROUP_SERVICES
    include_in_schema = False

    async def _render(
        self,
        request: Request[Any, Any, Any],
        groups: Groups,
        errors: FormErrors,
        values: dict[str, str],
        status: int,
        flash: str | None = None,
    ) -> Template:
        tree = await groups.tree()
        return page(
            request,
            "admin/groups.html",
            status_code=status,
            sections=admin_sections(),
            tree=tree,
            parents=[("", _("None (top level)"))] + [(str(v.group.id), "— " * v.depth + v.group.name) for v in tree],
            errors=errors,
            values=values,
        )

    @get("/admin/groups")
    async def list_groups(
        self, request: AppRequest, groups: NamedDependency[Groups], done: FromQuery[str] = ""
    ) -> Template:
        flash = {
            "added": _("The group is added."),
            "saved": _("The group is saved."),
            "deleted": _("The group is deleted."),
        }.get(done)
        response = await self._render(request, groups, FormErrors(), {}, 200)
        if flash:
            response.context["flash"] = flash
        return response

    @post("/admin/groups", status_code=HTTP_200_OK)
    async def add_group(self, request: AppRequest, groups: NamedDependency[Groups]) -> Template | Redirect:
        form = await FormData.read(request)
        values, parent_id = _group_fields(form)
        if form.errors:
            return await self._render(request, groups, form.errors, values, 422)
        try:
            rule = (values["rule_attribute"] or None, values["rule_value"] or None)
            await groups.create(values["name"], parent_id, *rule)
        except DomainError as exc:
            form.errors[exc.field if exc.field in values else "name"] = service_message(exc)
            return await self._render(request, groups, form.errors, values, exc.status)
        return Redirect("/admin/groups?done=added", status_code=303)

    @get("/admin/groups/{group_id:uuid}")
    async def edit_group(
        self, request: AppRequest, groups: NamedDependency[Groups], group_id: FromPath[UUID]
    ) -> Template:
        """A group's name, place in the tree and rule, to change; and its deletion."""
        group = await groups.get(group_id)
        values = {
            "name": group.name,
            "parent_id": str(group.parent_id or ""),
            "rule_attribute": group.rule_attribute or "",
            "rule_value": group.rule_value or "",
        }
        return await self._render_edit(request, groups, group_id, FormErrors(), values, 200)

    @post("/admin/groups/{group_id:uuid}", status_code=HTTP_200_OK)
    async def save_group(
        self, request: AppRequest, groups: NamedDependency[Groups], group_id: FromPath[UUID]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        values, parent_id = _group_fields(form)
        if not form.errors:
            try:
                await groups.update(
                    group_id, values["name"], parent_id, values["rule_attribute"] or None, values["rule_value"] or None
                )
            except DomainError as exc:
                if exc.status == 404:
                    raise
                form.errors[exc.field if exc.field in values else "name"] = service_message(exc)
            else:
                return Redirect("/admin/groups?done=saved", status_code=303)
        return await self._render_edit(request, groups, group_id, form.errors, values, 422)

    @post("/admin/groups/{group_id:uuid}/delete", status_code=HTTP_200_OK)
    async def delete_group(self, groups: NamedDependency[Groups], group_id: FromPath[UUID]) -> Redirect:
        await groups.delete(group_id)
        return Redirect("/admin/groups?done=deleted", status_code=303)

    async def _render_edit(
        self,
        request: AppRequest,
        groups: Groups,
        group_id: UUID,
        errors: FormErrors,
        values: dict[str, str],
        status: int,
    ) -> Template:
        group = await groups.get(group_id)
        tree = await groups.tree()
        # Not itself nor one of its subgroups: a group cannot sit inside those.
        below = {v.group.id for v in tree if v.group.id == group_id} | await groups.descendants(group_id)
        parents = [("", _("None (top level)"))] + [
            (str(v.group.id), "— " * v.depth + v.group.name) for v in tree if v.group.id not in below
        ]
        return page(
            request,
            "admin/group_edit.html",
            status_code=status,
            sections=admin_sections(),
            group=group,
            parents=parents,
            errors=errors,
            values=values,
        )
