"""Declarative bases. Every tenant-owned model mixes in `TenantScoped`."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from sqlalchemy import JSON, ForeignKey, Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

Base = UUIDv7AuditBase
"""UUIDv7 primary key (time-ordered, index friendly) plus created_at / updated_at."""

metadata = orm_registry.metadata


class PlatformBase(UUIDv7AuditBase):
    """Platform-wide tables (operators, the audit log): no tenant, never reachable by `lms_app`."""

    __abstract__ = True


class TenantScoped:
    """Mixin for tenant-owned rows: `tenant_id` is required, indexed first, and guarded by RLS.

    Subclasses declare unique keys and foreign keys that include `tenant_id`, so that a row can
    never point into another tenant, and so every table can be distributed on `tenant_id`.
    """

    # Label used in operator usage counts ("users", "courses"); None = not counted.
    __usage_label__: ClassVar[str | None] = None

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:
        return mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False)

    @declared_attr.directive
    def __table_args__(cls) -> Any:
        table = cls.__tablename__  # type: ignore[attr-defined]
        extra: tuple[Any, ...] = getattr(cls, "__tenant_table_args__", ())
        return (Index(f"ix_{table}_tenant_id", "tenant_id"), *extra)


# A JSON document column: JSONB on PostgreSQL; every domain stores settings and payloads in it.
JsonDict = JSON().with_variant(JSONB(), "postgresql")
