"""Who may manage training rules and read the compliance report: the site's administrators."""

from __future__ import annotations

from lms.identity.guards import requires_role
from lms.identity.schemas import Role

requires_tenant_admin = requires_role(Role.TENANT_ADMIN)
