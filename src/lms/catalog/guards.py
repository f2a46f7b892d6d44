"""Who may author the catalogue: instructors and tenant admins (per course checks in the service)."""

from __future__ import annotations

from lms.identity.guards import requires_role
from lms.identity.schemas import Role

requires_author = requires_role(Role.INSTRUCTOR, Role.TENANT_ADMIN)
