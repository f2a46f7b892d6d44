"""Certificates, per-course certificate policies and per-tenant certificate settings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, Enum, ForeignKeyConstraint, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class CertificateState(enum.StrEnum):
    """Stored state; "expired" is derived from `expires_at` when the certificate is read."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class Certificate(TenantScoped, Base):
    """One issued certificate: a snapshot of who, what and when, signed at issuance.

    The primary key is a random UUID (the public cert_id printed on the PDF and in the QR code).
    `generation` counts re-issues of the same enrolment; (enrolment, generation) is unique, which is
    what makes issuance idempotent under duplicate events and retries.
    """

    __tablename__ = "certificates"
    __usage_label__ = "certificates"
    __tenant_table_args__ = (
        Index("ux_certificates_enrollment_generation", "tenant_id", "enrollment_id", "generation", unique=True),
        Index("ix_certificates_user", "tenant_id", "user_id", "issued_at"),
        Index("ix_certificates_expiry", "tenant_id", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
        ForeignKeyConstraint(
            ["tenant_id", "enrollment_id"], ["enrollments.tenant_id", "enrollments.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"]),
        CheckConstraint("generation >= 1", name="ck_certificates_generation"),
    )

    enrollment_id: Mapped[UUID] = mapped_column(GUID())
    user_id: Mapped[UUID] = mapped_column(GUID())
    course_id: Mapped[UUID] = mapped_column(GUID())
    course_owner: Mapped[UUID] = mapped_column(GUID())
    generation: Mapped[int] = mapped_column(Integer, default=1)
    learner_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    tenant_name: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    key_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(64))
    state: Mapped[CertificateState] = mapped_column(
        Enum(CertificateState, name="certificate_state", values_callable=lambda e: [m.value for m in e]),
        default=CertificateState.ACTIVE,
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_reason: Mapped[str | None] = mapped_column(Text, default=None)
    superseded_by: Mapped[UUID | None] = mapped_column(GUID(), default=None)
    pdf_key: Mapped[str | None] = mapped_column(String(300), default=None)
    rendered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # The signed Open Badges 3.0 credential, built once at issuance.
    credential: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class CertificatePolicy(TenantScoped, Base):
    """How long a course's certificates stay valid and whether learners are reminded to recertify."""

    __tablename__ = "certificate_policies"
    __tenant_table_args__ = (
        Index("ux_certificate_policies_course", "tenant_id", "course_id", unique=True),
        ForeignKeyConstraint(
            ["course_owner", "course_id"], ["courses.catalogue_owner", "courses.id"], ondelete="CASCADE"
        ),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="ck_certificate_policies_valid_days"),
        CheckConstraint("remind_days_before >= 0", name="ck_certificate_policies_remind_days"),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    course_owner: Mapped[UUID] = mapped_column(GUID())
    valid_days: Mapped[int | None] = mapped_column(Integer, default=None)
    compliance: Mapped[bool] = mapped_column(default=False)
    remind_days_before: Mapped[int] = mapped_column(Integer, default=30)


class CertificateSettings(TenantScoped, Base):
    """Per-tenant certificate look: signatory, signature image, paper size."""

    __tablename__ = "certificate_settings"
    __tenant_table_args__ = (Index("ux_certificate_settings_tenant", "tenant_id", unique=True),)

    signatory_name: Mapped[str] = mapped_column(String(200), default="")
    signatory_title: Mapped[str] = mapped_column(String(200), default="")
    # A data:image/png;base64 or data:image/svg+xml URL (rendering never fetches from the network).
    signature_image: Mapped[str | None] = mapped_column(Text, default=None)
    paper: Mapped[str] = mapped_column(String(8), default="A4")
