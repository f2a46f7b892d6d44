"""The compliance JSON API for administrators: training assignments (rules) and the compliance report."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.compliance.guards import requires_tenant_admin
from lms.compliance.schemas import (
    ComplianceReportOut,
    ComplianceState,
    ProgramAssignmentCreate,
    TrainingRuleCreate,
    TrainingRuleOut,
)
from lms.compliance.services.report import compliance_report, report_csv, team_report
from lms.compliance.services.rules import RuleView, TrainingRules
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import ValidationFailed
from lms.lib.pagination import Page, PageParams
from lms.tenancy.services.audit import AdminAudit
from lms.web.i18n import gettext as _

# `state` is a name Litestar keeps for the application state, so the parameter is renamed in Python.
StateFilter = Annotated[str, QueryParameter(name="state", max_length=20)]


def chosen_state(raw: str) -> ComplianceState | None:
    """The state to show; unknown words are refused naming the query parameter."""
    if not raw:
        return None
    if raw not in set(ComplianceState):
        raise ValidationFailed(f"state is one of {', '.join(ComplianceState)}", field="state")
    return ComplianceState(raw)


def provide_training_rules(
    db_session: DbSession, principal: NamedDependency[Principal], audit: NamedDependency[AdminAudit]
) -> TrainingRules:
    return TrainingRules(db_session, principal, audit)


TRAINING_SERVICES = {"training": Provide(provide_training_rules, sync_to_thread=False)}


def rule_out(view: RuleView, enrolled: int | None = None) -> TrainingRuleOut:
    r = view.rule
    return TrainingRuleOut(
        id=r.id,
        course_id=r.course_id,
        course_title=view.course_title,
        group_id=r.group_id,
        group_name=view.group_name,
        user_id=r.user_id,
        user_email=view.user_email,
        due_date=r.due_date,
        due_days=r.due_days,
        recur_months=r.recur_months,
        created_at=r.created_at,
        enrolled=enrolled,
    )


def state_names() -> dict[str, str]:
    return {
        ComplianceState.ASSIGNED.value: _("Not started"),
        ComplianceState.IN_PROGRESS.value: _("In progress"),
        ComplianceState.COMPLETED.value: _("Completed"),
        ComplianceState.OVERDUE.value: _("Overdue"),
        ComplianceState.EXPIRED.value: _("Expired"),
    }


def csv_header() -> list[str]:
    return [_("Name"), _("E-mail"), _("State"), _("Progress %"), _("Due"), _("Completed")]


class TrainingAssignmentController(Controller):
    path = "/api/v1/admin/training-assignments"
    guards = [requires_tenant_admin]
    dependencies = TRAINING_SERVICES
    tags = ["compliance"]

    @get("/")
    async def list_rules(
        self, training: NamedDependency[TrainingRules], page: NamedDependency[PageParams]
    ) -> Page[TrainingRuleOut]:
        """Every training assignment, oldest first."""
        return page.slice([rule_out(v) for v in await training.list_rules()])

    @post("/", status_code=HTTP_201_CREATED)
    async def create_rule(
        self, training: NamedDependency[TrainingRules], data: JSONBody[TrainingRuleCreate]
    ) -> TrainingRuleOut:
        """Assign a published course to a group (with its subgroups) or to one person (`user_email`); the
        people are enrolled now and new group members by the periodic job. `enrolled` says how many now."""
        rule, enrolled = await training.create(data)
        return rule_out(await training.view(rule), enrolled)

    @post("/programs", status_code=HTTP_201_CREATED)
    async def assign_program(
        self, training: NamedDependency[TrainingRules], data: JSONBody[ProgramAssignmentCreate]
    ) -> list[TrainingRuleOut]:
        """Assign every published course of a program: one assignment per course (courses already
        assigned to the same group or person are left out; later changes to the program are not followed)."""
        made = await training.create_for_program(data)
        return [rule_out(await training.view(rule), enrolled) for rule, enrolled in made]

    @get("/{rule_id:uuid}")
    async def get_rule(self, training: NamedDependency[TrainingRules], rule_id: FromPath[UUID]) -> TrainingRuleOut:
        """One training assignment."""
        return rule_out(await training.view(await training.get(rule_id)))

    @delete("/{rule_id:uuid}", status_code=HTTP_200_OK)
    async def delete_rule(self, training: NamedDependency[TrainingRules], rule_id: FromPath[UUID]) -> dict[str, str]:
        """Stop assigning the course; enrolments already made are kept."""
        await training.delete(rule_id)
        return {"status": "deleted", "id": str(rule_id)}


class TeamComplianceController(Controller):
    """A manager's read-only compliance report: their direct and indirect reports only."""

    path = "/api/v1/team/compliance"
    guards = [requires_user]
    tags = ["compliance"]

    @get("/")
    async def report(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        page: NamedDependency[PageParams],
        course_id: FromQuery[UUID],
        state_filter: StateFilter = "",
    ) -> ComplianceReportOut:
        """Where each of the caller's reports enrolled in the course stands (empty for someone without
        reports): counts per state and a page of people (filtered by `state`)."""
        found = await team_report(db_session, principal.user_id, course_id, chosen_state(state_filter))
        return ComplianceReportOut(
            course_id=course_id,
            group_id=None,
            counts=found.counts,
            items=found.rows[page.offset : page.offset + page.limit],
            total=len(found.rows),
            limit=page.limit,
            offset=page.offset,
        )


class ComplianceReportController(Controller):
    path = "/api/v1/admin/compliance"
    guards = [requires_tenant_admin]
    tags = ["compliance"]

    @get("/")
    async def report(
        self,
        db_session: DbSession,
        page: NamedDependency[PageParams],
        course_id: FromQuery[UUID],
        group_id: FromQuery[UUID | None] = None,
        state_filter: StateFilter = "",
    ) -> ComplianceReportOut:
        """Where each person enrolled in the course stands (in the group with its subgroups, when
        given): counts per state over everyone, and a page of people (filtered by `state`)."""
        found = await compliance_report(db_session, course_id, group_id, chosen_state(state_filter))
        return ComplianceReportOut(
            course_id=course_id,
            group_id=group_id,
            counts=found.counts,
            items=found.rows[page.offset : page.offset + page.limit],
            total=len(found.rows),
            limit=page.limit,
            offset=page.offset,
        )

    @get("/export.csv", media_type="text/csv; charset=utf-8")
    async def export(
        self,
        db_session: DbSession,
        course_id: FromQuery[UUID],
        group_id: FromQuery[UUID | None] = None,
        state_filter: StateFilter = "",
    ) -> Response[str]:
        """The report's people as CSV (cells safe to open in a spreadsheet)."""
        found = await compliance_report(db_session, course_id, group_id, chosen_state(state_filter))
        return Response(
            report_csv(found.rows, csv_header(), state_names()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="compliance.csv"'},
        )
