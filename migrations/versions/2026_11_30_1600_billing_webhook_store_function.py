"""The webhook inbox's insert as one statement: `app.store_webhook_event` binds the tenant for the
statement's own transaction and inserts the event by its id, so a delivery is stored and committed in one
round trip (an implicit transaction) instead of BEGIN and the binding, the insert, and COMMIT.

SECURITY INVOKER (the default): the insert runs as the caller (lms_app), under the table's forced RLS,
checked against the tenant the function binds; lms_app could bind that tenant itself anyway. The row's
time is the database's (`now()`), the clock the handling job compares it with (lms.billing.services.inbox).

Revision ID: 1600
Revises: 1450
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1600"
down_revision: str | None = "1450"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORE_WEBHOOK_EVENT = """
CREATE OR REPLACE FUNCTION app.store_webhook_event(
    p_tenant uuid, p_id uuid, p_event_id text, p_type text, p_object_id text, p_payload jsonb
) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
DECLARE
    stored uuid;
BEGIN
    -- Transaction-local, like every binding: it ends with the statement's transaction.
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    INSERT INTO billing_webhook_events
        (id, tenant_id, stripe_event_id, type, object_id, payload, status, attempts, created_at, updated_at)
    VALUES (p_id, p_tenant, p_event_id, p_type, p_object_id, p_payload, 'received', 0, now(), now())
    ON CONFLICT (tenant_id, stripe_event_id) DO NOTHING
    RETURNING id INTO stored;
    RETURN stored;
END
$$;
REVOKE ALL ON FUNCTION app.store_webhook_event(uuid, uuid, text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.store_webhook_event(uuid, uuid, text, text, text, jsonb) TO lms_app;
"""


def upgrade() -> None:
    op.execute(STORE_WEBHOOK_EVENT)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.store_webhook_event(uuid, uuid, text, text, text, jsonb)")
