"""Database access: engines per role, the TenantScoped mixin and transaction-local tenant binding."""

from lms.db.base import Base, PlatformBase, TenantScoped
from lms.db.binding import bind_tenant, tenant_session

__all__ = ["Base", "PlatformBase", "TenantScoped", "bind_tenant", "tenant_session"]
