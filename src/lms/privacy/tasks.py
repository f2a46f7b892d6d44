"""Names of the privacy domain's background jobs (`name(tenant_id, entity_id)`)."""

from __future__ import annotations

EXPORT_TASK = "privacy.build_personal_data_export"
# Beat, daily: fans out one purge of expired export files per active tenant.
PURGE_TASK = "privacy.purge_expired_exports"
PURGE_TENANT_TASK = "privacy.purge_expired_exports_of_tenant"
