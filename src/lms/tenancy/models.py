"""Tenants, their domains, platform operators and the operator audit log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, DateTime, Enum, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, JsonDict, PlatformBase, TenantScoped


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class Plan(enum.StrEnum):
    TRIAL = "trial"
    TEAM = "team"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"


class Tenant(Base):
    """A customer company. Its `id` is the value every tenant-owned row carries as `tenant_id`."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, name="tenant_status", values_callable=lambda e: [m.value for m in e]),
        default=TenantStatus.ACTIVE,
    )
    plan: Mapped[Plan] = mapped_column(
        Enum(Plan, name="tenant_plan", values_callable=lambda e: [m.value for m in e]), default=Plan.TRIAL
    )
    seats: Mapped[int] = mapped_column(Integer, default=0)
    branding: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class TenantDomain(TenantScoped, Base):
    """A hostname that serves a tenant. Only verified domains resolve."""

    __tablename__ = "tenant_domains"
    __usage_label__ = "domains"
    # A host name maps to one tenant platform-wide, read before a tenant is known: a reference table on
    # Citus (copied to every node), keyed by `id` alone.
    __distributed__ = False
    __tenant_table_args__ = (
        # Any tenant may claim a hostname; only one can prove it (a claim cannot block the real owner).
        Index("ux_tenant_domains_verified_hostname", "hostname", unique=True, postgresql_where="verified"),
        Index("ux_tenant_domains_hostname", "tenant_id", "hostname", unique=True),
        Index("ix_tenant_domains_due", "next_check_at"),
        # one primary domain per tenant
        Index("ux_tenant_domains_primary", "tenant_id", unique=True, postgresql_where="is_primary"),
    )

    hostname: Mapped[str] = mapped_column(String(253))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # DNS checks (tenant self-service): when, what went wrong, when next, and when a verified domain
    # stopped verifying (it keeps serving and is flagged, never dropped silently).
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Operator(PlatformBase):
    """A platform operator: platform-wide, never a row of a tenant."""

    __tablename__ = "operators"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The console's second factor: the TOTP secret encrypted under SECRET_KEY (None until enrolled).
    mfa_secret: Mapped[str | None] = mapped_column(Text, default=None)
    mfa_enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OperatorAuditEntry(PlatformBase):
    """Who did what to which tenant, with the state before and after."""

    __tablename__ = "operator_audit_log"
    __table_args__ = (
        Index("ix_operator_audit_log_target", "target_tenant_id", "created_at"),
        ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="SET NULL"),
    )

    operator_id: Mapped[UUID | None] = mapped_column(default=None)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    # Deliberately not `tenant_id`: this row belongs to the platform, not to the tenant it names.
    target_tenant_id: Mapped[UUID | None] = mapped_column(default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class AdminAuditEntry(TenantScoped, Base):
    """An administrative change inside a tenant: who, what, when, before and after, and the request.

    Tenant admins read their own tenant's entries (RLS); operators' actions stay in the platform log.
    """

    __tablename__ = "admin_audit_log"
    __tenant_table_args__ = (
        Index("ix_admin_audit_log_time", "tenant_id", "created_at"),
        Index("ix_admin_audit_log_target", "tenant_id", "target_type", "target_id"),
        Index("ix_admin_audit_log_actor", "tenant_id", "actor_user_id", "created_at"),
    )

    # No foreign key to users: the entry outlives the account it names (erasure anonymises the label).
    actor_user_id: Mapped[UUID | None] = mapped_column(default=None)
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64), default=None)
    target_label: Mapped[str | None] = mapped_column(String(320), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
