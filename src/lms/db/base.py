"""Declarative bases. Every tenant-owned model mixes in `TenantScoped`."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from sqlalchemy import JSON, ForeignKey, Index, PrimaryKeyConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

Base = UUIDv7AuditBase
"""UUIDv7 primary key (time-ordered, index friendly) plus created_at / updated_at."""

metadata = orm_registry.metadata


class PlatformBase(UUIDv7AuditBase):
    """Platform-wide tables (operators, the audit log): no tenant, never reachable by `lms_app`."""

    __abstract__ = True


def distribution_key(column: str) -> PrimaryKeyConstraint:
    """The primary key `(column, id)`: it holds the table's distribution column (Citus requires it,
    docs/capacity.md), and leads with it, so the key's index also serves the tenant's range scans."""
    return PrimaryKeyConstraint(column, "id")


def identified_by_id(cls: Any) -> dict[str, Any]:
    """Mapper arguments of a table keyed `(distribution column, id)`: the ORM still identifies a row by
    `id` alone (a UUIDv7, unique by itself), so `session.get(Model, id)` and the identity map are as
    before, and an UPDATE or DELETE matches on `id` (RLS adds the tenant)."""
    return {"primary_key": [cls.__table__.c.id]}


class TenantScoped:
    """Mixin for tenant-owned rows: `tenant_id` is required, leads the primary key, and is guarded by RLS.

    Subclasses declare unique keys and foreign keys that include `tenant_id`, so that a row can
    never point into another tenant, and so every table can be distributed on `tenant_id`. The
    primary key is `(tenant_id, id)`; the ORM identifies rows by `id` (`identified_by_id`).
    """

    # Label used in operator usage counts ("users", "courses"); None = not counted.
    __usage_label__: ClassVar[str | None] = None
    # False for a platform-wide lookup read before a tenant is known (a Citus reference table, copied
    # to every node): its primary key stays `(id)`.
    __distributed__: ClassVar[bool] = True

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="RESTRICT"),
            nullable=False,
            primary_key=cls.__distributed__,
        )

    @declared_attr.directive
    def __table_args__(cls) -> Any:
        table = cls.__tablename__  # type: ignore[attr-defined]
        extra: tuple[Any, ...] = getattr(cls, "__tenant_table_args__", ())
        if cls.__distributed__:
            # The primary key leads with tenant_id: it serves the tenant's scans, no index of its own.
            return (distribution_key("tenant_id"), *extra)
        return (Index(f"ix_{table}_tenant_id", "tenant_id"), *extra)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return identified_by_id(cls)


# A JSON document column: JSONB on PostgreSQL; every domain stores settings and payloads in it.
JsonDict = JSON().with_variant(JSONB(), "postgresql")
