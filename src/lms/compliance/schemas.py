"""Compliance shapes on the wire: training rules and the compliance report."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec


class ComplianceState(enum.StrEnum):
    """Where a person stands with an assigned course (the report's columns)."""

    ASSIGNED = "assigned"  # enrolled, not started
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    OVERDUE = "overdue"  # past the due date, not completed
    EXPIRED = "expired"  # completed, but the completion or its certificate is no longer valid


class TrainingRuleCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Assign `course_id` to a group (with its subgroups) or to one person by e-mail; due on `due_date`
    or `due_days` after enrolment (exactly one); with `recur_months` it is taken again that often."""

    course_id: UUID
    group_id: UUID | None = None
    user_email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)] | None = None
    due_date: date | None = None
    due_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    recur_months: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None


class ProgramAssignmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Assign every published course of a program: one training assignment per course, with the same
    target, due date and recurrence (courses added to the program later are not followed)."""

    program_id: UUID
    group_id: UUID | None = None
    user_email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)] | None = None
    due_date: date | None = None
    due_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    recur_months: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None


class TrainingRuleOut(msgspec.Struct):
    id: UUID
    course_id: UUID
    course_title: str
    group_id: UUID | None
    group_name: str | None
    user_id: UUID | None
    user_email: str | None
    due_date: date | None
    due_days: int | None
    recur_months: int | None
    created_at: datetime
    # Set on creation: how many people the rule enrolled there and then.
    enrolled: int | None = None


class ComplianceRow(msgspec.Struct):
    user_id: UUID
    display_name: str
    email: str
    state: ComplianceState
    completion_pct: float
    due_at: datetime | None
    completed_at: datetime | None


class ComplianceReportOut(msgspec.Struct):
    """The counts per state over every person in scope, and one page of the per-person rows."""

    course_id: UUID
    group_id: UUID | None
    counts: dict[str, int]
    items: list[ComplianceRow]
    total: int
    limit: int
    offset: int
