"""Names of the privacy domain's background jobs (`name(tenant_id, entity_id)`)."""

from __future__ import annotations

EXPORT_TASK = "privacy.build_personal_data_export"
