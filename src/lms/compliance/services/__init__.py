"""Assigned training reacts to membership changes: `schedule_sync` is what other domains call when
someone may have joined a group (added by hand, a group's rule edited, a person created, updated or
reactivated by an administrator, SCIM, single sign-on or an import).

The rules themselves live in `rules`, the jobs in `jobs`; this module stays light (no other domain's
services) so that identity and organisation can call it without an import cycle.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.models import ComplianceSyncRequest
from lms.compliance.tasks import SYNC_TENANT_TASK
from lms.db.binding import TENANT_KEY
from lms.lib import clock
from lms.lib.ids import new_id
from lms.lib.jobs import enqueue_after_commit

# One pending sync per tenant.
SYNC_KEY = "rules"
# Changes committed within this pause of the first one are taken by the same sync (an import or a
# SCIM client provisioning people one request after another).
SYNC_DELAY_SECONDS = 1.0


async def schedule_sync(session: AsyncSession, tenant_id: UUID | None = None) -> bool:
    """Apply the bound tenant's training rules (and dynamic groups) soon after this transaction commits.

    Call it inside the transaction that changes membership, after its other writes: a rollback sends
    nothing, a commit always leads to a sync that sees the change. A burst of changes runs one sync: the
    first writes the tenant's pending request and sends the job with its commit; the others join that
    request until the job takes it. Joining holds the request's row until the transaction ends (so the
    job cannot start before the change is committed), which is why it comes last: the tenant's other
    membership changes wait for this commit, never for more work. True when this call sent the job.
    """
    tenant = tenant_id or session.sync_session.info.get(TENANT_KEY)
    if tenant is None:
        raise RuntimeError("schedule_sync needs a session bound to a tenant")
    at = clock.now()
    request_id = new_id()
    # DO UPDATE (not DO NOTHING): joining locks the request until this transaction ends, and the job's
    # delete waits for that lock, so the sync cannot start before a joined change is committed.
    statement = (
        pg_insert(ComplianceSyncRequest)
        .values(id=request_id, tenant_id=tenant, dedupe_key=SYNC_KEY, created_at=at, updated_at=at)
        .on_conflict_do_update(index_elements=["tenant_id", "dedupe_key"], set_={"updated_at": at})
        .returning(ComplianceSyncRequest.id)
    )
    written = (await session.execute(statement)).scalar_one() == request_id
    if written:
        enqueue_after_commit(session, SYNC_TENANT_TASK, str(tenant), str(request_id), countdown=SYNC_DELAY_SECONDS)
    return written
