"""Who may export or erase a person's data: tenant admins of the request's tenant."""

from __future__ import annotations

from lms.identity.guards import requires_role
from lms.identity.schemas import Role

requires_tenant_admin = requires_role(Role.TENANT_ADMIN)
