"""Who may use the notification routes."""

from __future__ import annotations

from lms.identity.guards import allows_anonymous, requires_role
from lms.identity.schemas import Role

requires_tenant_admin = requires_role(Role.TENANT_ADMIN)
public_unsubscribe = allows_anonymous(
    "the one-click unsubscribe link in an e-mail: its HMAC signature for (tenant, user, kind) is the authorization"
)
