"""Names of the organisation domain's background jobs (`name(tenant_id, entity_id)`)."""

from __future__ import annotations

IMPORT_TASK = "organisation.run_user_import"
INVITATIONS_TASK = "organisation.send_import_invitations"
