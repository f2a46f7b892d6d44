"""The admin pages for assigned training: the rules with a form to add one, deleting a rule, and
the compliance report with its filters and CSV export (HTML over the same services as the JSON API)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.compliance.controllers import TRAINING_SERVICES, state_names
from lms.compliance.guards import requires_tenant_admin
from lms.compliance.schemas import ComplianceState, ProgramAssignmentCreate, TrainingRuleCreate
from lms.compliance.services.report import compliance_report, report_courses, team_report
from lms.compliance.services.rules import TrainingRules
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import admin_sections, before_page, page

# A program in the course list: its value names the program (every published course of it is assigned).
PROGRAM_PREFIX = "program:"
FIELDS = ("course_id", "target", "group_id", "user_email", "due", "due_date", "due_days", "recur_months")


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


def _whole(raw: str, low: int, high: int) -> int | None:
    return int(raw) if raw.isdigit() and low <= int(raw) <= high else None


class TrainingPagesController(Controller):
    """Training assignments and the compliance report, for the site's administrators."""

    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    dependencies = TRAINING_SERVICES
    include_in_schema = False

    async def _render(
        self,
        request: Request[Any, Any, Any],
        training: TrainingRules,
        errors: FormErrors,
        values: dict[str, str],
        status: int,
        flash: str | None = None,
    ) -> Template:
        options = await training.options()
        return page(
            request,
            "compliance/training.html",
            status_code=status,
            sections=admin_sections(),
            rules=await training.list_rules(),
            courses=[("", _("Choose a course"))]
            + [(str(i), t) for i, t in options.courses]
            + [(f"{PROGRAM_PREFIX}{i}", _("Program: %(title)s", title=t)) for i, t in options.programs],
            groups=[("", _("Choose a group"))] + [(str(i), n) for i, n in options.groups],
            errors=errors,
            values=values,
            flash=flash,
        )

    @get("/admin/training")
    async def list_rules(
        self, request: AppRequest, training: NamedDependency[TrainingRules], done: FromQuery[str] = ""
    ) -> Template:
        flash = {"added": _("The course is assigned."), "deleted": _("The assignment is deleted.")}.get(done)
        return await self._render(request, training, FormErrors(), {"target": "group", "due": "days"}, 200, flash)

    @post("/admin/training", status_code=HTTP_200_OK)
    async def add_rule(self, request: AppRequest, training: NamedDependency[TrainingRules]) -> Template | Redirect:
        form = await FormData.read(request)
        values = {name: form.text(name, 320) for name in FIELDS}
        program_id = None
        if values["course_id"].startswith(PROGRAM_PREFIX):
            program_id = _uuid(values["course_id"].removeprefix(PROGRAM_PREFIX))
            course_id = program_id
        else:
            course_id = _uuid(values["course_id"])
        if course_id is None:
            form.errors["course_id"] = _("Choose a course.")
        group_id: UUID | None = None
        email: str | None = None
        if values["target"] == "person":
            email = values["user_email"] or None
            if email is None:
                form.errors["user_email"] = _("Enter the person's e-mail address.")
        else:
            group_id = _uuid(values["group_id"])
            if group_id is None:
                form.errors["group_id"] = _("Choose a group.")
        due_date: date | None = None
        due_days: int | None = None
        if values["due"] == "date":
            try:
                due_date = date.fromisoformat(values["due_date"])
            except ValueError:
                form.errors["due_date"] = _("Enter the due date, for example 2027-03-31.")
        else:
            due_days = _whole(values["due_days"], 1, 3650)
            if due_days is None:
                form.errors["due_days"] = _("Enter a number of days from 1 to 3650.")
        recur_months: int | None = None
        if values["recur_months"]:
            recur_months = _whole(values["recur_months"], 1, 120)
            if recur_months is None:
                form.errors["recur_months"] = _("Enter a number of months from 1 to 120, or leave it empty.")
        if form.errors or course_id is None:
            return await self._render(request, training, form.errors, values, 422)
        try:
            if program_id is not None:
                await training.create_for_program(
                    ProgramAssignmentCreate(program_id, group_id, email, due_date, due_days, recur_months)
                )
            else:
                await training.create(TrainingRuleCreate(course_id, group_id, email, due_date, due_days, recur_months))
        except DomainError as exc:
            # A program's problems are shown at the course list, where the program was chosen.
            field = exc.field if exc.field in values else "course_id"
            form.errors[field] = service_message(exc)
            return await self._render(request, training, form.errors, values, exc.status)
        return Redirect("/admin/training?done=added", status_code=303)

    @post("/admin/training/{rule_id:uuid}/delete", status_code=HTTP_200_OK)
    async def delete_rule(
        self, request: AppRequest, training: NamedDependency[TrainingRules], rule_id: FromPath[UUID]
    ) -> Redirect:
        await FormData.read(request)
        await training.delete(rule_id)
        return Redirect("/admin/training?done=deleted", status_code=303)

    @get("/admin/training/report")
    async def report(
        self,
        request: AppRequest,
        db_session: DbSession,
        training: NamedDependency[TrainingRules],
        course_id: FromQuery[str] = "",
        group_id: FromQuery[str] = "",
        state_filter: Annotated[str, QueryParameter(name="state")] = "",
    ) -> Template:
        """Pick a course (and a group); the counts per state and the people, filtered by state."""
        options = await training.options()
        course = _uuid(course_id[:36])
        if course is None and options.courses:
            course = options.courses[0][0]
        group = _uuid(group_id[:36])
        chosen = ComplianceState(state_filter) if state_filter in set(ComplianceState) else None
        found = await compliance_report(db_session, course, group, chosen) if course else None
        query = {"course_id": str(course or ""), "group_id": str(group or ""), "state": chosen or ""}
        return page(
            request,
            "compliance/report.html",
            sections=admin_sections(),
            courses=[(str(i), t) for i, t in options.courses],
            groups=[("", _("Everyone"))] + [(str(i), n) for i, n in options.groups],
            states=[("", _("Any state")), *state_names().items()],
            state_names=state_names(),
            filters={k: str(v) for k, v in query.items()},
            report=found,
            base_href="/admin/training/report",
            export_href="/api/v1/admin/compliance/export.csv?" + urlencode({k: v for k, v in query.items() if v}),
        )


class TeamTrainingPagesController(Controller):
    """A manager's read-only compliance report over their direct and indirect reports."""

    before_request = staticmethod(before_page)
    guards = [requires_user]
    include_in_schema = False

    @get("/team/training")
    async def report(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromQuery[str] = "",
        state_filter: Annotated[str, QueryParameter(name="state")] = "",
    ) -> Template:
        courses = await report_courses(db_session)
        course = _uuid(course_id[:36])
        if course is None and courses:
            course = courses[0][0]
        chosen = ComplianceState(state_filter) if state_filter in set(ComplianceState) else None
        found = await team_report(db_session, principal.user_id, course, chosen) if course else None
        return page(
            request,
            "compliance/report.html",
            team=True,
            courses=[(str(i), t) for i, t in courses],
            states=[("", _("Any state")), *state_names().items()],
            state_names=state_names(),
            filters={"course_id": str(course or ""), "group_id": "", "state": chosen or ""},
            report=found,
            base_href="/team/training",
        )
