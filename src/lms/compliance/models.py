"""Compliance tables: training rules (a course assigned to a group or a person, with a due date) and
the pending sync of a tenant whose memberships changed."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import CheckConstraint, Date, ForeignKey, ForeignKeyConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class TrainingRule(TenantScoped, Base):
    """A course assigned to everyone in a group (and its subgroups) or to one person.

    Due either on a fixed date or `due_days` after the rule enrolled the person (for a new group member:
    after the job picked them up). With `recur_months` a completion older than that, or a certificate
    that expired, sends the person through the course again."""

    __tablename__ = "training_rules"
    __tenant_table_args__ = (
        Index(
            "ux_training_rules_target",
            "tenant_id",
            "course_id",
            text("coalesce(group_id, user_id)"),
            unique=True,
        ),
        ForeignKeyConstraint(["tenant_id", "group_id"], ["org_groups.tenant_id", "org_groups.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        CheckConstraint("(group_id IS NULL) <> (user_id IS NULL)", name="ck_training_rules_one_target"),
        CheckConstraint("(due_date IS NULL) <> (due_days IS NULL)", name="ck_training_rules_one_due"),
        CheckConstraint("due_days IS NULL OR due_days BETWEEN 1 AND 3650", name="ck_training_rules_due_days"),
        CheckConstraint("recur_months IS NULL OR recur_months BETWEEN 1 AND 120", name="ck_training_rules_recur"),
    )

    # No foreign key to courses: the course may be a shared one owned by the shared catalogue.
    course_id: Mapped[UUID] = mapped_column(GUID())
    group_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    user_id: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    due_days: Mapped[int | None] = mapped_column(Integer, default=None)
    recur_months: Mapped[int | None] = mapped_column(Integer, default=None)
    # The administrator who made the rule: enrolments it makes are assigned by them.
    created_by: Mapped[UUID] = mapped_column(GUID())


class ComplianceSyncRequest(TenantScoped, Base):
    """A tenant's pending "apply the training rules now" (membership may have changed).

    At most one per tenant (`dedupe_key`): the change that writes it sends the sync job when it commits;
    later changes, until the job takes the row, join it and send nothing. A change joining the row locks
    it until its commit, and the job deletes the row before it syncs, so the sync always sees them."""

    __tablename__ = "compliance_sync_requests"
    __tenant_table_args__ = (
        Index("ux_compliance_sync_requests_tenant_id_id", "tenant_id", "id", unique=True),
        Index("ux_compliance_sync_requests_dedupe", "tenant_id", "dedupe_key", unique=True),
    )

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
