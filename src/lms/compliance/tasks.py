"""Names of the compliance domain's background jobs."""

from __future__ import annotations

APPLY_RULES_TASK = "compliance.apply_training_rules"
# One tenant's rules applied now (sent when its memberships changed; see `services.schedule_sync`).
SYNC_TENANT_TASK = "compliance.sync_tenant"
