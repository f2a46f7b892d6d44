"""Tenant user accounts. Platform operators are separate (lms.tenancy.models.Operator)."""

from __future__ import annotations

import enum

from sqlalchemy import Enum, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class UserStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class Role(enum.StrEnum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    TENANT_ADMIN = "tenant_admin"


class User(TenantScoped, Base):
    """A person in one tenant; e-mail is unique per tenant, case-insensitively."""

    __tablename__ = "users"
    __usage_label__ = "users"
    __tenant_table_args__ = (
        Index("ux_users_tenant_email", "tenant_id", text("lower(email)"), unique=True),
        # Composite target so other tables can reference (tenant_id, user id) and never cross tenants.
        Index("ux_users_tenant_id_id", "tenant_id", "id", unique=True),
    )

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, name="user_status", values_callable=lambda e: [m.value for m in e]),
        default=UserStatus.ACTIVE,
    )
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=lambda: [Role.LEARNER.value])
