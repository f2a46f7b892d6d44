"""Names of the billing jobs (the wrappers live in workers/billing.py)."""

from __future__ import annotations

# handle one stored Stripe event: (tenant_id, inbox row id)
HANDLE_EVENT_TASK = "billing.handle_stripe_event"
# beat: suspend tenants past due beyond the grace period (platform-wide scan, then one job per tenant)
ENFORCE_GRACE_TASK = "billing.enforce_grace_periods"
ENFORCE_GRACE_TENANT_TASK = "billing.enforce_grace_period"
# beat: the daily seat utilisation snapshot of every tenant
SNAPSHOT_SEATS_TASK = "billing.snapshot_seats"
SNAPSHOT_SEATS_TENANT_TASK = "billing.snapshot_tenant_seats"
# beat: send again the stored events whose job was lost
REQUEUE_EVENTS_TASK = "billing.requeue_stale_events"
