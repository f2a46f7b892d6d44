"""Organisation tables: bulk user imports (the uploaded file, its column mapping, progress and outcome)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, JsonDict, TenantScoped


class ImportStatus(enum.StrEnum):
    UPLOADED = "uploaded"
    PREVIEWING = "previewing"
    PREVIEWED = "previewed"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"


class UserImport(TenantScoped, Base):
    """One CSV file an admin uploaded: previewed (dry run) and applied, inline or by a background job."""

    __tablename__ = "user_imports"
    __tenant_table_args__ = (
        Index("ix_user_imports_tenant_created", "tenant_id", "created_at"),
        ForeignKeyConstraint(["tenant_id", "created_by"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    created_by: Mapped[UUID]
    file_name: Mapped[str] = mapped_column(String(255))
    file_key: Mapped[str] = mapped_column(String(500))
    file_size: Mapped[int] = mapped_column(BigInteger)
    # The file's header row, and field -> header chosen by the admin (or suggested from the headers).
    headers: Mapped[list[str]] = mapped_column(JsonDict, default=list)
    mapping: Mapped[dict[str, str]] = mapped_column(JsonDict, default=dict)
    deactivate_missing: Mapped[bool] = mapped_column(default=False)
    send_invitations: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.UPLOADED.value)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    # created / updated / unchanged / deactivated / accounts_after / seats, from the last preview or apply.
    result: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # The first problems (row, column, reason) for the page; the full list is the downloadable report.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JsonDict, default=list)
    report_key: Mapped[str | None] = mapped_column(String(500), default=None)
    failure: Mapped[str | None] = mapped_column(Text, default=None)
    previewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    applied_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class OrgGroup(TenantScoped, Base):
    """A group of people with an optional parent (nested) and an optional rule that keeps its
    membership to the people whose attribute has a value (department = Sales). Membership itself
    is the group's name in the person's groups, whether set by hand, an import, SCIM or the rule."""

    __tablename__ = "org_groups"
    __tenant_table_args__ = (
        Index("ux_org_groups_tenant_name", "tenant_id", "name", unique=True),
        ForeignKeyConstraint(
            ["tenant_id", "parent_id"], ["org_groups.tenant_id", "org_groups.id"], ondelete="SET NULL"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[UUID | None] = mapped_column(default=None)
    rule_attribute: Mapped[str | None] = mapped_column(String(100), default=None)
    rule_value: Mapped[str | None] = mapped_column(String(200), default=None)
