"""Privacy tables: personal data exports, erasures done, and the tenant's erasure policy."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    READY = "ready"
    FAILED = "failed"


class CertificatesOnErasure(enum.StrEnum):
    """What erasing a person does to their certificates."""

    REVOKE = "revoke"
    KEEP = "keep"


class PersonalDataExport(TenantScoped, Base):
    """One export of a person's data, requested by an admin and built by a background job."""

    __tablename__ = "privacy_exports"
    __tenant_table_args__ = (
        Index("ix_privacy_exports_tenant_user", "tenant_id", "user_id", "created_at"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    # The person whose data it is.
    user_id: Mapped[UUID]
    # The admin who asked; no foreign key, so the record outlives that admin's account.
    requested_by: Mapped[UUID | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default=ExportStatus.QUEUED.value)
    file_key: Mapped[str | None] = mapped_column(String(500), default=None)
    file_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    failure: Mapped[str | None] = mapped_column(Text, default=None)


class Erasure(TenantScoped, Base):
    """A person who was erased: when, by whom, and what happened to their certificates (one per person)."""

    __tablename__ = "privacy_erasures"
    __tenant_table_args__ = (
        Index("ux_privacy_erasures_tenant_user", "tenant_id", "user_id", unique=True),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    user_id: Mapped[UUID]
    erased_by: Mapped[UUID | None] = mapped_column(default=None)
    erased_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    certificates: Mapped[str] = mapped_column(String(8))
    certificates_revoked: Mapped[int] = mapped_column(Integer, default=0)


class PrivacySettings(TenantScoped, Base):
    """A tenant's privacy policy, edited by its admins (one row per tenant; absent = defaults)."""

    __tablename__ = "privacy_settings"
    __tenant_table_args__ = (
        Index("ux_privacy_settings_tenant", "tenant_id", unique=True),
        CheckConstraint("erasure_certificates IN ('revoke', 'keep')", name="ck_privacy_settings_certificates"),
    )

    erasure_certificates: Mapped[str] = mapped_column(String(8), default=CertificatesOnErasure.REVOKE.value)
